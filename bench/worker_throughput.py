"""First throughput figure of kafka-mirror on the lab: records/s for 100 B and 1 KiB records, 1 and 4 streams.

Usage (lab up, brokers advertising their IPs): python bench/worker_throughput.py [--records-100b N] [--records-1k N]
Each run mirrors a freshly pre-loaded topic (8 partitions, RF 2, as the article) into its own target topic with a
fresh group; the rate is taken between the first and the last record arriving on the target (start-up excluded).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_lab.layout import LabConfig

PRIMARY, SECONDARY = (",".join(f"{h.ip}:9092" for h in c.hosts()) for c in LabConfig().clusters()[:2])


def preload(topic: str, n: int, size: int) -> None:
    admin = AdminClient({"bootstrap.servers": PRIMARY})
    admin.create_topics([NewTopic(topic, 8, 2)])[topic].result(30)
    producer = Producer({"bootstrap.servers": PRIMARY, "linger.ms": 50, "batch.size": 1000000,
                         "queue.buffering.max.messages": 1000000})
    value = os.urandom(size)
    for i in range(n):
        while True:
            try:
                producer.produce(topic, value, b"%d" % (i % 10000))
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(120) == 0


def target_count(consumer: Consumer, topic: str) -> int:
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        if md.error is not None:
            return 0
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions)
    except Exception:
        return 0


def run(n: int, size: int, streams: int) -> tuple[float, float]:
    topic = f"tput-{size}-{streams}-{uuid.uuid4().hex[:6]}"
    preload(topic, n, size)
    work = Path(tempfile.mkdtemp(prefix="tput-"))
    (work / "c.properties").write_text(f"bootstrap.servers={PRIMARY}\ngroup.id=g-{topic}\n")
    (work / "p.properties").write_text(f"bootstrap.servers={SECONDARY}\ncompression.type=none\n")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "kafka-mirror"), "--consumer.config",
                             str(work / "c.properties"), "--producer.config", str(work / "p.properties"),
                             "--whitelist", topic, "--num.streams", str(streams), "--metrics.port", "0"],
                            stdout=subprocess.DEVNULL, stderr=open(work / "mirror.log", "wb"),
                            env={**os.environ, "STATE_DIRECTORY": str(work)}, start_new_session=True)
    checker = Consumer({"bootstrap.servers": SECONDARY, "group.id": "tput-check"})
    first = last = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        c = target_count(checker, topic)
        now = time.monotonic()
        if c and first is None:
            first = (now, c)
        if c >= n:
            last = (now, c)
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    checker.close()
    assert last is not None, f"only {c}/{n} mirrored; see {work / 'mirror.log'}"
    rate = (last[1] - first[1]) / (last[0] - first[0])
    return rate, rate * size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records-100b", type=int, default=1_000_000)
    parser.add_argument("--records-1k", type=int, default=300_000)
    args = parser.parse_args()
    print("| record size | streams | records | records/s | MB/s |")
    print("|---|---|---|---|---|")
    for size, n in ((100, args.records_100b), (1024, args.records_1k)):
        for streams in (1, 4):
            rate, mbs = run(n, size, streams)
            print(f"| {size} B | {streams} | {n:,} | {rate:,.0f} | {mbs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
