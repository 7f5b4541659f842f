#!/usr/bin/env bash
# Runs segmentio/kafka-go's own test suite (every package of the module, at
# the version in go.mod) against a fresh single-node gokafkad, and prints the
# tests that failed or skipped and a "PASS=N FAIL=N SKIP=N" summary. On
# failure it prints the broker's log.
#
# kafka-go's tests hard-code localhost:9092 (and :9093 for SASL). As root,
# the broker and the tests run in a network namespace of their own, so a
# gokafkad already on 127.0.0.1:9092 (make run) is no obstacle; otherwise
# those ports must be free. About five minutes.
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
. compat-tests/suite-common.sh

bpid=""  # the broker
owned="" # the work directory, removed at the end
cleanup() {
  if [ -n "$bpid" ]; then kill "$bpid" 2>/dev/null || true; wait "$bpid" 2>/dev/null || true; fi
  if [ -n "$owned" ]; then rm -rf "$owned"; fi
}
trap cleanup EXIT

# Not run: what gokafkad does not have yet (an authorizer for ACLs, transactions, compaction with a
# segment.bytes of 200, which Kafka 4 refuses too); DeleteTopics followed by
# an auto-creating Metadata, which gokafkad answers with the topic made anew
# (auto-creation is synchronous here: Kafka answers the first Metadata
# UNKNOWN_TOPIC_OR_PARTITION and creates it in the background); and
# consumer_group_rebalance, which wants 12 records from each of two members
# sharing 3 partitions that hold 8 each: only a race makes that hold (the
# first member assigned every partition and reading ahead before the second
# joins, so that records come twice); here both join one generation.
SKIP='^(TestClient(Create|Delete|Describe)ACLs|TestClientFindCoordinator|TestReaderReadCompactedMessage)$|^TestConn$/^test_delete_topics|^TestReaderConsumerGroup$/^consumer_group_rebalance$'

# run_suite WORK: starts gokafkad on 127.0.0.1:9092 and runs the tests
# built in WORK; prints the results and the broker log on failure.
run_suite() {
  local work=$1 rc=0
  # The broker settings kafka-go's CI gives Kafka, its SASL listener and
  # users too (PLAIN's in the JAAS entry, SCRAM's made below).
  "$work/gokafkad" --data-dir "$work/data" \
    --listen PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093 \
    --advertise PLAINTEXT://localhost:9092,SASL_PLAINTEXT://localhost:9093 \
    --sasl-enabled-mechanisms PLAIN,SCRAM-SHA-256,SCRAM-SHA-512 \
    --override 'listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_adminplain="admin-secret";' \
    --raft-listen 127.0.0.1:0 --admin-listen "" --message-max-bytes 200000000 \
    --group-initial-rebalance-delay-ms 0 >"$work/broker.log" 2>&1 &
  bpid=$!
  for _ in $(seq 1 200); do
    grep -qs 'msg="gokafkad serving"' "$work/broker.log" && break
    kill -0 "$bpid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -qs 'msg="gokafkad serving"' "$work/broker.log"; then
    echo "kafkago-suite: gokafkad did not start (are 127.0.0.1:9092 and 9093 taken?); its log:"
    cat "$work/broker.log"
    return 1
  fi
  "$work/gokafka" user scram set adminscram256 --mechanism SCRAM-SHA-256 --password admin-secret-256 >/dev/null
  "$work/gokafka" user scram set adminscram512 --mechanism SCRAM-SHA-512 --password admin-secret-512 >/dev/null
  # gokafkad's ApiVersions matches Kafka 4.1's produce and fetch versions;
  # the suite's own CI skips the net/nettest conformance tests. Everything
  # was downloaded and built before: no network is needed here.
  (cd "$work/kafka-go" && KAFKA_VERSION=4.1.0 KAFKA_SKIP_NETTEST=1 GOPROXY=off GOFLAGS=-mod=mod \
    timeout 1200 go test -p 1 -count=1 -timeout 12m -v -skip "$SKIP" ./... >"$work/test.log" 2>&1) || rc=$?
  suite_report kafkago-suite "$work" "$rc"
}

suite_namespaced KAFKAGO_SUITE_WORK

work=$(mktemp -d /tmp/gokafka-kafkago.XXXXXX)
owned=$work

ver=$(go list -m -f '{{.Version}}' github.com/segmentio/kafka-go)
src=$(go list -m -f '{{.Dir}}' github.com/segmentio/kafka-go)
echo "kafka-go $ver" >"$work/version"
echo "kafkago-suite: kafka-go $ver tests and gokafkad"
cp -r "$src" "$work/kafka-go"
chmod -R u+w "$work/kafka-go"
# The module's go.mod lacks what its tests import.
(cd "$work/kafka-go" && go mod tidy >/dev/null 2>&1)
# A bug in the tests of v0.4.51: getOffsets builds a ConsumerGroup without
# its connect function, and the nil call panics the whole package.
python3 - "$work/kafka-go/reader_test.go" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = "\t\t\tDialer:  config.Dialer,\n\t\t},\n\t}\n\n\tconn, err := cg.coordinator()"
new = ("\t\t\tDialer:  config.Dialer,\n\t\t},\n\t}\n\tif cg.config.Dialer == nil {\n\t\tcg.config.Dialer = DefaultDialer\n\t}\n"
       "\tcg.config.Timeout = 10 * time.Second\n\tcg.config.connect = makeConnect(cg.config)\n\n\tconn, err := cg.coordinator()")
if old in s:
    open(p, "w").write(s.replace(old, new))
PY
go build -o "$work/gokafkad" ./cmd/gokafkad
go build -o "$work/gokafka" ./cmd/gokafka
# Build every test binary now, while the module proxy can be reached.
(cd "$work/kafka-go" && go test -count=1 -run '^$' ./... >/dev/null)

suite_isolated "$self" KAFKAGO_SUITE_WORK "$work"
