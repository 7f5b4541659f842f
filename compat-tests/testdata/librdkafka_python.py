"""confluent-kafka (librdkafka) against gokafkad: idempotent zstd producer,
a consumer group with manual commits, then every codec, offsets by time,
watermarks, topic configs and partitions through the AdminClient. Exits
non-zero on any mismatch."""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

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

# Every codec, with the timestamps the producer sets; then offsets by time
# and watermarks as a consumer sees them.
codecs = ["none", "gzip", "snappy", "lz4", "zstd"]
t2 = topic + "-codecs"
for f in a.create_topics([NewTopic(t2, num_partitions=1, replication_factor=1)]).values():
    f.result()
base = int(time.time() * 1000) - 60000
for i, codec in enumerate(codecs):
    p = Producer({"bootstrap.servers": addr, "compression.type": codec, "linger.ms": 0})
    for j in range(10):
        p.produce(t2, key=codec, value="%s-%d" % (codec, j), timestamp=base + 1000 * i + j)
    check(p.flush(15) == 0, "%s delivered" % codec)
c = Consumer({"bootstrap.servers": addr, "group.id": group + "-codecs", "enable.auto.commit": False})
lo, hi = c.get_watermark_offsets(TopicPartition(t2, 0), timeout=10)
check((lo, hi) == (0, 50), "watermarks %d %d" % (lo, hi))
at = c.offsets_for_times([TopicPartition(t2, 0, base + 3000)], timeout=10)  # lz4's first record
check(at[0].offset == 30, "offset for time %s" % at[0])
c.assign([TopicPartition(t2, 0, 25)])
got = []
deadline = time.time() + 30
while len(got) < 25 and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    check(m.error() is None, "consume error %s" % m.error())
    got.append((m.offset(), m.value().decode(), m.timestamp()[1]))
c.close()
want = [(25 + k, "%s-%d" % (codecs[(25 + k) // 10], (25 + k) % 10), base + 1000 * ((25 + k) // 10) + (25 + k) % 10) for k in range(25)]
check(got == want, "records from offset 25: %s" % got[:3])

# Topic configs and partitions through the AdminClient.
res = ConfigResource(ConfigResource.Type.TOPIC, t2, set_config={"retention.ms": "7200000"})
for f in a.alter_configs([res]).values():
    f.result()
desc = list(a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, t2)]).values())[0].result()
check(desc["retention.ms"].value == "7200000" and not desc["retention.ms"].is_default, "retention.ms %s" % desc["retention.ms"])
check(desc["cleanup.policy"].value == "delete" and desc["cleanup.policy"].is_default, "cleanup.policy %s" % desc["cleanup.policy"])
for f in a.create_partitions([NewPartitions(t2, 3)]).values():
    f.result()
md = a.list_topics(t2, timeout=10)
check(len(md.topics[t2].partitions) == 3, "partitions %d" % len(md.topics[t2].partitions))
for f in a.delete_topics([t2]).values():
    f.result()
print("OK confluent-kafka", N)
