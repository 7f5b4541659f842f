# The two commands a newcomer needs: `make run` and `make test`.
GO ?= go

.PHONY: run build test deps unit kgo-suite kafkago-suite sarama-suite bench fmt vet

run:
	$(GO) run ./cmd/gokafkad

build:
	$(GO) build -o bin/gokafkad ./cmd/gokafkad
	$(GO) build -o bin/gokafka ./cmd/gokafka

# Everything the tests need that Go does not fetch by itself: kcat, the
# Python clients (Debian's packages) and KafkaJS (npm, into compat-tests/node).
deps:
	@missing=""; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing="$$missing python3 python3-kafka"; \
	/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing="$$missing python3-confluent-kafka"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@test -d compat-tests/node/node_modules/kafkajs || (cd compat-tests/node && npm ci --no-audit --no-fund --silent)

# The broker is developed and tested on Linux; it and its tests must also
# build on macOS and Windows, where people embed it in their Go tests.
vet:
	$(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

kgo-suite:
	bash compat-tests/kgo-suite.sh

# segmentio/kafka-go's own tests, on 127.0.0.1:9092 in a network namespace
# of their own (as root; else that port must be free).
kafkago-suite:
	bash compat-tests/kafkago-suite.sh

# IBM/sarama's functional tests, behind toxiproxy, likewise in a namespace.
sarama-suite:
	bash compat-tests/sarama-suite.sh

test: deps vet unit kgo-suite kafkago-suite sarama-suite

bench: build
	bash bench/run.sh
