"""kafka-python against gokafkad: admin, keyed produce with headers, a
consumer group, commits and group admin. Exits non-zero on any mismatch."""
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
print("OK kafka-python", N)
