"""confluent-kafka (librdkafka) against gokafkad: idempotent zstd producer,
a consumer group with manual commits. Exits non-zero on any mismatch."""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

addr, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
N = 80


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


a = AdminClient({"bootstrap.servers": addr})
for f in a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)]).values():
    f.result()

acked = []
p = Producer({"bootstrap.servers": addr, "enable.idempotence": True, "compression.type": "zstd", "acks": "all"})
for i in range(N):
    p.produce(topic, key=str(i), value="v%d" % i, headers={"h": str(i)},
              on_delivery=lambda err, m: acked.append((err, m.partition(), m.offset())))
check(p.flush(15) == 0, "all delivered")
check(all(e is None for e, _, _ in acked) and len(acked) == N, "no delivery errors")

c = Consumer({"bootstrap.servers": addr, "group.id": group, "auto.offset.reset": "earliest",
              "enable.auto.commit": False})
c.subscribe([topic])
seen = set()
deadline = time.time() + 30
while len(seen) < N and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    check(m.error() is None, "consume error %s" % m.error())
    check(m.value().decode() == "v" + m.key().decode(), "value matches key")
    check(dict(m.headers())["h"].decode() == m.key().decode(), "header")
    seen.add(m.key())
check(len(seen) == N, "consumed %d of %d" % (len(seen), N))
c.commit(asynchronous=False)
got = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
check(sum(tp.offset for tp in got) == N, "committed %s" % got)
c.close()
print("OK confluent-kafka", N)
