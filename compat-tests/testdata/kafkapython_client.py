"""kafka-python against gokafkad: admin, keyed produce with headers, a
consumer group, commits and group admin, and a producer and consumer pinned
to Kafka 0.10.1 (produce v2, fetch v3: magic 1 message sets). Exits non-zero
on any mismatch."""
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

addr, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
N = 60


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


adm = KafkaAdminClient(bootstrap_servers=addr)
adm.create_topics([NewTopic(topic, 3, 1)])
check(topic in adm.list_topics(), "topic listed")

p = KafkaProducer(bootstrap_servers=addr, acks="all", compression_type="gzip")
futs = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"%d" % i)]) for i in range(N)]
p.flush()
for f in futs:
    md = f.get(timeout=10)
    check(md.offset >= 0, "acknowledged offset")

c = KafkaConsumer(topic, bootstrap_servers=addr, group_id=group, auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=15000)
seen = {}
for m in c:
    check(m.value == b"v" + m.key[1:], "value matches key")
    check(dict(m.headers).get("h") == m.key[1:], "header")
    seen[m.key] = seen.get(m.key, 0) + 1
    if len(seen) == N:
        break
check(len(seen) == N, "consumed %d of %d" % (len(seen), N))
c.commit()
committed = sum(c.committed(TopicPartition(topic, p)) or 0 for p in range(3))
check(committed == N, "committed offsets sum to %d" % committed)
c.close()

check((group, "consumer") in adm.list_consumer_groups(), "group listed")
offs = adm.list_consumer_group_offsets(group)
check(sum(o.offset for o in offs.values()) == N, "group offsets")
# Pinned to 0.10.1, as an application written for old brokers would be.
old = topic + "-old"
adm.create_topics([NewTopic(old, 1, 1)])
p = KafkaProducer(bootstrap_servers=addr, acks="all", compression_type="gzip", api_version=(0, 10, 1))
futs = [p.send(old, key=b"k%d" % i, value=b"v%d" % i, timestamp_ms=1700000000000 + i) for i in range(N)]
p.flush()
check([f.get(timeout=10).offset for f in futs] == list(range(N)), "old producer offsets")
c = KafkaConsumer(old, bootstrap_servers=addr, auto_offset_reset="earliest", consumer_timeout_ms=15000,
                  api_version=(0, 10, 1))
got = []
for m in c:
    check(m.offset == len(got) and m.key == b"k%d" % m.offset and m.value == b"v%d" % m.offset, "old consumer record")
    check(m.timestamp == 1700000000000 + m.offset, "old consumer timestamp %d" % m.timestamp)
    got.append(m.offset)
    if len(got) == N:
        break
check(len(got) == N, "old consumer got %d of %d" % (len(got), N))
c.close()
print("OK kafka-python", N)
