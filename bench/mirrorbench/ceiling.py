"""The machine's limit for the same clients: a plain consumer of the primary and a plain producer into the secondary.

librdkafka (confluent-kafka, kafka-mirror's client) is measured in-process with kafka-mirror's consumer and producer
settings (librdkafka's own fetch.queue.backoff.ms would halve the plain consumer);
the Java client (MirrorMaker's) with Kafka's own perf tools from the same 3.9.1 jars.
"""
from __future__ import annotations

import re
import subprocess
import time
from dataclasses import asdict, dataclass

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_lab.runtime import KafkaRuntime
from kafka_mirror.config import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, PRODUCER_FIXED
from mirrorbench import clusters
from mirrorbench.clusters import BenchError, Lab
from mirrorbench.tools import JVM_PERFORMANCE
from mirrorbench.workloads import Workload

CEILING_TOPIC = "bench-ceiling"


@dataclass(frozen=True)
class CeilingRun:
    client: str  # "librdkafka" or "java"
    direction: str  # "consume primary" or "produce secondary"
    workload: str
    round: int
    records_per_s: float
    mb_per_s: float

    def to_json(self) -> dict:
        return asdict(self)


def consume_librdkafka(lab: Lab, w: Workload) -> float:
    consumer = Consumer({**CONSUMER_DEFAULTS, "bootstrap.servers": lab.primary, "group.id": "bench-ceiling",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(w.topic, p, -2) for p in range(w.partitions)])
    n, eof, first = 0, 0, None
    deadline = time.monotonic() + 300
    try:
        while eof < w.partitions and time.monotonic() < deadline:
            batch = consumer.consume(10000, 1.0)
            for m in batch:
                err = m.error()
                if err is None:
                    n += 1
                elif err.code() == KafkaError._PARTITION_EOF:
                    eof += 1
            if n and first is None:
                first = (time.monotonic(), n)
    finally:
        consumer.close()
    if n != w.records or first is None:
        raise BenchError(f"the plain consumer read {n:,} of {w.records:,} records of {w.topic}")
    return (n - first[1]) / (time.monotonic() - first[0])


def produce_librdkafka(lab: Lab, w: Workload) -> float:
    clusters.reset_topic(lab.secondary, CEILING_TOPIC, w.partitions, w.replication_factor)
    producer = Producer({"bootstrap.servers": lab.secondary, **PRODUCER_DEFAULTS, **PRODUCER_FIXED})
    start = time.monotonic()
    clusters.write(producer, w, CEILING_TOPIC)
    return w.records / (time.monotonic() - start)


def _java(runtime: KafkaRuntime, main: str, *args: str) -> str:
    proc = subprocess.run([str(runtime.java), "-Xmx512M", *JVM_PERFORMANCE, "-cp", runtime.classpath, main, *args],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise BenchError(f"{main} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return proc.stdout


def produce_java(lab: Lab, runtime: KafkaRuntime, w: Workload) -> float:
    clusters.reset_topic(lab.secondary, CEILING_TOPIC, w.partitions, w.replication_factor)
    out = _java(runtime, "org.apache.kafka.tools.ProducerPerformance", "--topic", CEILING_TOPIC,
                "--num-records", str(w.records), "--record-size", str(w.value_size), "--throughput", "-1",
                "--producer-props", f"bootstrap.servers={lab.secondary}", "acks=all")
    found = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", out)
    if not found or int(found[-1][0]) != w.records:
        raise BenchError(f"ProducerPerformance printed no final line:\n{out[-1000:]}")
    return float(found[-1][1])


def consume_java(lab: Lab, runtime: KafkaRuntime, w: Workload) -> float:
    out = _java(runtime, "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", lab.primary,
                "--topic", w.topic, "--messages", str(w.records), "--timeout", "60000")
    lines = [line for line in out.splitlines() if line.strip()]
    header = [h.strip() for h in lines[-2].split(",")]
    values = dict(zip(header, (v.strip() for v in lines[-1].split(","))))
    if int(values.get("data.consumed.in.nMsg", -1)) < w.records:
        raise BenchError(f"ConsumerPerformance read fewer than {w.records:,} records:\n{out[-1000:]}")
    return float(values["fetch.nMsg.sec"])


def ceilings(lab: Lab, runtime: KafkaRuntime, w: Workload, rnd: int) -> list[CeilingRun]:
    runs = [("librdkafka", "consume primary", consume_librdkafka(lab, w)),
            ("librdkafka", "produce secondary", produce_librdkafka(lab, w))]
    if not w.keys_headers:  # Kafka's perf tools send neither keys nor headers
        runs += [("java", "consume primary", consume_java(lab, runtime, w)),
                 ("java", "produce secondary", produce_java(lab, runtime, w))]
    clusters.delete_topics(AdminClient({"bootstrap.servers": lab.secondary}), [CEILING_TOPIC])
    return [CeilingRun(c, d, w.name, rnd, r, r * w.record_bytes / 1e6) for c, d, r in runs]
