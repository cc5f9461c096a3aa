"""librdkafka's share of one hop, as Hop.java measures the Java clients'."""
import sys, time
sys.path[:0] = ["/work/main/worker/src", "/work/main/bench"]
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka_mirror.config import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, PRODUCER_FIXED
from kafka_mirror.mirror import fetch

def pct(s, name):
    s.sort(); n = len(s)
    print(f"{name} n={n} p50={s[n//2]:.0f} p99={s[n*99//100]:.0f} p999={s[n*999//1000]:.0f}", flush=True)

mode, bootstrap, topic, partitions, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
end = time.time() + seconds
lat = []
if mode == "consume":
    extra = dict(kv.split("=", 1) for kv in sys.argv[6:])
    c = Consumer({**CONSUMER_DEFAULTS, "bootstrap.servers": bootstrap, "group.id": "hop", "enable.auto.commit": False, **extra})
    c.assign([TopicPartition(topic, p, -1) for p in range(partitions)])
    while time.time() < end:
        for m in fetch(c, 10000):
            if m.error() is None:
                lat.append(time.time() * 1000 - m.timestamp()[1])
    c.close()
    pct(lat, f"librdkafka consume {extra}")
else:
    rate, linger = int(sys.argv[6]), sys.argv[7]
    sticky = len(sys.argv) > 8 and sys.argv[8] == "sticky"
    # sticky: null-key records stay on one random partition for 100 ms (about where Java's built-in partitioner
    # moves on at this rate: after batch.size, 16 KiB, of records)
    p = Producer({**PRODUCER_DEFAULTS, **PRODUCER_FIXED, "bootstrap.servers": bootstrap, "linger.ms": linger,
                  **({"sticky.partitioning.linger.ms": 100} if sticky else {})})
    v = bytes(100); start = time.monotonic(); sent = 0
    while time.time() < end:
        due = int((time.monotonic() - start) * rate)
        while sent < due:
            t0 = time.monotonic()
            p.produce(topic, v, None, -1 if sticky else sent % partitions, lambda e, m, t0=t0: lat.append((time.monotonic() - t0) * 1000))
            sent += 1
        # poll, not sleep, for the tick: a delivery callback runs inside poll(), so a sleep would add up to 10 ms to
        # each acknowledgement (Java's callbacks run on its I/O thread at once)
        tick = time.monotonic() + 0.01
        while (left := tick - time.monotonic()) > 0:
            p.poll(left)
    p.flush(30)
    pct(lat, f"librdkafka produce linger={linger} {'sticky' if sticky else 'explicit'}")
