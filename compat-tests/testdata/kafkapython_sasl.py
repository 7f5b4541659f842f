"""kafka-python against a gokafkad SASL_PLAINTEXT listener: PLAIN,
SCRAM-SHA-256 and SCRAM-SHA-512 logins (kafka-python 2.0 speaks
SaslHandshake v0, the exchange in bare tokens), a produce and a consume with
each, and a wrong password refused. Exits non-zero on any mismatch."""
import sys

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, NoBrokersAvailable

addr, topic = sys.argv[1], sys.argv[2]
users = [("PLAIN", "alice", "alice-secret"), ("SCRAM-SHA-256", "bob", "bob-secret"), ("SCRAM-SHA-512", "carol", "carol-secret")]


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def sasl(mech, user, password):
    return dict(bootstrap_servers=addr, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mech,
                sasl_plain_username=user, sasl_plain_password=password)


for mech, user, password in users:
    p = KafkaProducer(acks="all", **sasl(mech, user, password))
    p.send(topic, value=user.encode()).get(timeout=10)
    p.close()

for mech, user, password in users:
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=5000, **sasl(mech, user, password))
    got = sorted(m.value.decode() for m in c)
    c.close()
    check(got == ["alice", "bob", "carol"], "%s consumed %r" % (mech, got))

for mech, user, _ in users:
    try:
        KafkaProducer(**sasl(mech, user, "wrong"))
        check(False, "%s with a wrong password connected" % mech)
    except (KafkaError, NoBrokersAvailable):
        pass

print("OK kafka-python SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
