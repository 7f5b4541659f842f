# The two commands a newcomer needs: `make run` and `make test`.
GO ?= go

.PHONY: run build test deps unit kgo-suite bench fmt vet

run:
	$(GO) run ./cmd/gokafkad

build:
	$(GO) build -o bin/gokafkad ./cmd/gokafkad
	$(GO) build -o bin/gokafka ./cmd/gokafka

# Everything the tests need that Go does not fetch by itself.
deps:
	@command -v kcat >/dev/null 2>&1 || { \
	  echo "installing kcat"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq kcat >/dev/null; }

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

kgo-suite:
	bash compat-tests/kgo-suite.sh

test: deps vet unit kgo-suite

bench: build
	bash bench/run.sh
