#!/usr/bin/env bash
# Runs franz-go's own integration suite (package pkg/kgo, at the version in
# go.mod) against a fresh single-node gokafkad, and prints a line per test and
# an "N passed, N failed" summary. Tests that need what gokafkad does not have
# yet (transactions) are listed in SKIP below. On failure it prints the
# broker's log.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Tests that need transactions.
SKIP='^(TestTxnEtl)$'
# Tests (and subtests) that skip themselves for what gokafkad does not have:
# share groups, KIP-848, OAUTHBEARER, and a produce v2 it still takes, as Kafka 3
# did. Any other skip fails the run: franz-go skips, not fails, what the
# broker stops advertising (static membership below JoinGroup v5).
EXPECTED_SKIP='^(TestShareGroup[A-Za-z]*|TestConsumeRegexShareSkipsInternal|Test848RegexBrokerResolves|TestGroupETL/[a-z-]+/848(/static)?|TestGroupSimple/848|TestOAuthAuth|TestIssueProduceBrokerTooOldFailsRecords)$'

work=$(mktemp -d /tmp/gokafka-kgo.XXXXXX)
bpid=""
cleanup() {
  if [ -n "$bpid" ]; then kill "$bpid" 2>/dev/null || true; wait "$bpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

ver=$(go list -m -f '{{.Version}}' github.com/twmb/franz-go)
src=$(go list -m -f '{{.Dir}}' github.com/twmb/franz-go)/pkg/kgo
echo "kgo-suite: building franz-go $ver pkg/kgo tests and gokafkad"
go test -c -o "$work/kgo.test" github.com/twmb/franz-go/pkg/kgo
go build -o "$work/gokafkad" ./cmd/gokafkad
go build -o "$work/gokafka" ./cmd/gokafka

# Port 0 everywhere; the broker logs the addresses it bound. A second
# listener, SASL_PLAINTEXT with SCRAM, serves the suite's SCRAM tests.
"$work/gokafkad" --data-dir "$work/data" --listen PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0 \
  --sasl-enabled-mechanisms SCRAM-SHA-256,SCRAM-SHA-512 --raft-listen 127.0.0.1:0 \
  --admin-listen 127.0.0.1:0 >"$work/broker.log" 2>&1 &
bpid=$!
kaddr=""
for _ in $(seq 1 200); do
  kaddr=$(sed -n 's/.*msg="gokafkad serving".* listen=\([^ ]*\).*/\1/p' "$work/broker.log" | head -1)
  [ -n "$kaddr" ] && break
  sleep 0.1
done
[ -n "$kaddr" ] || { echo "gokafkad did not start"; cat "$work/broker.log"; exit 1; }
saddr=$(sed -n 's/.*msg="gokafkad serving".* SASL_PLAINTEXT=\([^ ]*\).*/\1/p' "$work/broker.log" | head -1)
"$work/gokafka" -b "$kaddr" user scram set kgo --mechanism SCRAM-SHA-256 --password kgo-secret >/dev/null

log=$work/kgo.log
set +e
# Run from the package source so its tests that read their own files work.
(cd "$src" && KGO_SEEDS=$kaddr KGO_TEST_SCRAM_SEEDS=$saddr KGO_TEST_SCRAM=kgo:kgo-secret KGO_TEST_RF=1 KGO_TEST_RECORDS=${KGO_TEST_RECORDS:-20000} \
  "$work/kgo.test" -test.v -test.timeout 10m -test.skip "$SKIP") >"$log" 2>&1
rc=$?
set -e
grep -E '^--- (PASS|FAIL|SKIP): ' "$log" | sed -E 's/^--- (PASS|FAIL|SKIP): ([^ ]+) .*/\1 \2/' | sort -k2
p=$(grep -cE '^--- PASS: ' "$log" || true)
f=$(grep -cE '^--- FAIL: ' "$log" || true)
s=$(grep -cE '^--- SKIP: ' "$log" || true)
if grep -q '^panic: ' "$log"; then
  echo "kgo-suite: the test binary panicked or timed out:"; grep -A20 '^panic: ' "$log" | head -40
  f=$((f+1))
fi
unexpected=$(grep -E '^ *--- SKIP: ' "$log" | sed -E 's/^ *--- SKIP: ([^ ]+) .*/\1/' | grep -vE "$EXPECTED_SKIP" || true)
if [ -n "$unexpected" ]; then
  echo "kgo-suite: skipped, but gokafkad should run them:"; echo "$unexpected"
  f=$((f+1))
fi
if ! kill -0 "$bpid" 2>/dev/null; then
  echo "kgo-suite: gokafkad died during the run"; f=$((f+1))
fi
echo "franz-go $ver pkg/kgo against gokafkad:"
echo "kgo: $p passed, $f failed, $s skipped"
if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
  echo "---- failing tests' output ----"
  grep -E -B2 -A30 '^--- FAIL' "$log" | head -300
  echo "---- gokafkad log (last 200 lines) ----"
  tail -200 "$work/broker.log"
  exit 1
fi
