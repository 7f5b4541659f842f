#!/usr/bin/env bash
# Runs IBM/sarama's functional test suite (build tag "functional", at the
# version in go.mod) against a fresh single-node gokafkad behind toxiproxy,
# as sarama's own CI runs it against Kafka behind toxiproxy, and prints the
# tests that failed or skipped and a "PASS=N FAIL=N SKIP=N" summary. On
# failure it prints the broker's log.
#
# The suite hard-codes its addresses (toxiproxy's API on 8474, proxies
# kafka1..kafka5 on 29091-29095). As root everything runs in a network
# namespace of its own; otherwise those ports and 9092 must be free. About
# two minutes.
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
. compat-tests/suite-common.sh

# Not run: what gokafkad does not have yet (transactions; feature flags,
# UpdateFeatures; the log cleaner's settings, as compaction is not
# performed), what needs several brokers (a coordinator or follower to fail
# over to, reassignments, a DescribeLogDirs answer from five brokers), and a
# test that reads the broker's log for Kafka's own words through docker.
SKIP='Txn|Transactions|InitProducerId3|^TestFuncAdminUpdateFeatures$|^TestFuncAdminIncrementalAlterConfigs$|^TestFuncAdminListConsumerGroupOffsets$|^TestConsumerFetchFollowerFailover$|^TestFuncAdminAlterPartitionReassignments$|^TestFuncAdminDescribeLogDirs$|^TestFuncIdempotentBufferedSequence$'
TOXIPROXY=github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0

bpid=""  # the broker
pids=""  # the broker and toxiproxy
owned="" # the work directory, removed at the end
cleanup() {
  local p
  for p in $pids; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$owned" ]; then rm -rf "$owned"; fi
}
trap cleanup EXIT

# http METHOD URL [BODY]: toxiproxy's API, with what every machine here has.
http() {
  python3 - "$@" <<'PY'
import sys, urllib.request
method, url = sys.argv[1], sys.argv[2]
body = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=5).read()
PY
}

# run_suite WORK: starts gokafkad and toxiproxy and runs the tests built in
# WORK; prints the results and the broker log on failure.
run_suite() {
  local work=$1 rc=0 i
  # As in sarama's compose file: no auto-creation, no initial rebalance
  # delay. The broker advertises proxy kafka1, so that the suite's faults
  # (latency, network errors) reach every connection, as they do broker 1's.
  "$work/gokafkad" --data-dir "$work/data" --listen 127.0.0.1:9092 --advertise 127.0.0.1:29091 \
    --raft-listen 127.0.0.1:0 --admin-listen "" --auto-create-topics=false \
    --group-initial-rebalance-delay-ms 0 >"$work/broker.log" 2>&1 &
  bpid=$!
  pids="$pids $bpid"
  "$work/server" -host 127.0.0.1 -port 8474 >"$work/toxiproxy.log" 2>&1 &
  pids="$pids $!"
  for i in $(seq 1 200); do
    grep -qs 'msg="gokafkad serving"' "$work/broker.log" && http GET http://127.0.0.1:8474/version 2>/dev/null && break
    sleep 0.1
  done
  if ! grep -qs 'msg="gokafkad serving"' "$work/broker.log"; then
    echo "sarama-suite: gokafkad did not start (is 127.0.0.1:9092 taken?); its log:"
    cat "$work/broker.log"
    return 1
  fi
  for i in 1 2 3 4 5; do
    http POST http://127.0.0.1:8474/proxies \
      "{\"name\":\"kafka$i\",\"listen\":\"127.0.0.1:2909$i\",\"upstream\":\"127.0.0.1:9092\",\"enabled\":true}"
  done
  (cd "$work/sarama" && TOXIPROXY_ADDR=http://127.0.0.1:8474 KAFKA_VERSION=4.0.0 \
    timeout 900 "$work/sarama.test" -test.v -test.count 1 -test.timeout 12m -test.skip "$SKIP" >"$work/test.log" 2>&1) || rc=$?
  suite_report sarama-suite "$work" "$rc"
}

suite_namespaced SARAMA_SUITE_WORK

work=$(mktemp -d /tmp/gokafka-sarama.XXXXXX)
owned=$work
ver=$(go list -m -f '{{.Version}}' github.com/IBM/sarama)
src=$(go list -m -f '{{.Dir}}' github.com/IBM/sarama)
echo "sarama $ver" >"$work/version"
echo "sarama-suite: sarama $ver functional tests, toxiproxy and gokafkad"
cp -r "$src" "$work/sarama"
chmod -R u+w "$work/sarama"
# The suite's topics have replication factor 3, for its five brokers: the
# broker default here (-1), on one.
python3 - "$work/sarama/functional_test.go" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
n = s.count("ReplicationFactor: 3,")
assert n == 5, "functional_test.go: %d topics with replication factor 3, want 5" % n
open(p, "w").write(s.replace("ReplicationFactor: 3,", "ReplicationFactor: -1,"))
PY
(cd "$work/sarama" && go mod tidy >/dev/null 2>&1 && go test -c -tags functional -o "$work/sarama.test" .)
GOBIN=$work go install "$TOXIPROXY"
go build -o "$work/gokafkad" ./cmd/gokafkad

suite_isolated "$self" SARAMA_SUITE_WORK "$work"
