"""The lab's two clusters as the benchmark sees them: preload, reset a target topic, count and trace records."""
from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka import IsolationLevel
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from kafka_lab.layout import KAFKA_PORT, SASL_SSL_PORT, Paths, load_config
from kafka_lab.procs import pid_from
from kafka_lab.pki import SCRAM_MECHANISM, client_user
from mirrorbench.workloads import Workload, identity, key_of, record

TIMEOUT_S = 60.0


class BenchError(Exception):
    """A precondition or a run failed; the message says what and where to look."""


@dataclass(frozen=True)
class Secured:
    """How a tool reaches one cluster of the secure lab (`kafka-lab up --secure`): its SASL_SSL listener (TLS, SCRAM)
    and the Java client properties for it, as a user's properties files hold them (the password only in files)."""
    bootstrap: str
    client: dict[str, str]


@dataclass(frozen=True)
class Lab:
    primary: str  # bootstrap servers (PLAINTEXT: the bench's own clients, and the tools unless secured)
    secondary: str
    home: Path
    secure: tuple[Secured, Secured] | None = None  # primary's, secondary's; None: not a secure lab


def lab() -> Lab:
    home = Path(os.environ.get("KAFKA_LAB_HOME", "/var/lib/kafka-lab"))
    cfg = load_config(home)
    if cfg is None:
        raise BenchError(f"no lab in {home}: run `kafka-lab up` and `ansible-playbook bench/prepare-lab.yml` first")
    primary, secondary = (",".join(f"{h.ip}:{KAFKA_PORT}" for h in c.hosts()) for c in cfg.clusters()[:2])
    secure = tuple(_secured(Paths(home), c) for c in cfg.clusters()[:2]) if cfg.secure else None
    return Lab(primary, secondary, home, secure)


def broker_pids(lab: Lab) -> list[int]:
    """The JVMs of the lab's brokers, both clusters (each host's pid file, as `kafka-lab status` reads it); none
    unless every broker has one, as a sum over some of them would pass for all."""
    paths = Paths(lab.home)
    cfg = load_config(lab.home)
    hosts = [h for c in cfg.clusters()[:2] for h in c.hosts()] if cfg else []
    pids = [pid_from(paths.broker_pid_file(h.fqdn)) for h in hosts]
    return [pid for pid in pids if pid] if all(pids) else []


def _secured(paths: Paths, cluster) -> Secured:
    password = paths.kafka_password(cluster.name).read_text().strip()
    jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{client_user(cluster)}" '
            f'password="{password}";')
    return Secured(",".join(f"{h.ip}:{SASL_SSL_PORT}" for h in cluster.hosts()),
                   {"security.protocol": "SASL_SSL", "sasl.mechanism": SCRAM_MECHANISM, "sasl.jaas.config": jaas,
                    "ssl.truststore.type": "PEM", "ssl.truststore.location": str(paths.ca_cert)})


def _wait(what: str, check, timeout: float = TIMEOUT_S, sleep: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(sleep)


def reachable(bootstrap: str) -> None:
    """Fail clearly when brokers still advertise names this namespace cannot resolve."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        md = admin.list_topics(timeout=15)
    except KafkaException as exc:
        raise BenchError(f"{bootstrap} does not answer: {exc}") from exc
    names = [b.host for b in md.brokers.values() if not b.host.replace(".", "").isdigit()]
    if names:
        raise BenchError(f"brokers of {bootstrap} advertise host names ({', '.join(sorted(names))}) that this "
                         "machine does not resolve: run `ansible-playbook bench/prepare-lab.yml` (the article's "
                         "network step) first")


def partition_counts(admin: AdminClient, topic: str) -> list[int] | None:
    """Records per partition (last stable offset minus low watermark: records of transactions not yet committed are
    not counted, so a transactional tool is timed to what its readers see; for the others it is the high
    watermark), or None while the topic is not (fully) there."""
    md = admin.list_topics(topic, timeout=10).topics.get(topic)
    if md is None or md.error is not None or not md.partitions:
        return None
    tps = [TopicPartition(topic, p) for p in sorted(md.partitions)]
    try:
        low = admin.list_offsets({tp: OffsetSpec.earliest() for tp in tps}, request_timeout=10)
        high = admin.list_offsets({tp: OffsetSpec.latest() for tp in tps}, request_timeout=10,
                                  isolation_level=IsolationLevel.READ_COMMITTED)
        return [high[tp].result().offset - low[tp].result().offset for tp in tps]
    except KafkaException:
        return None


def create_topic(admin: AdminClient, topic: str, partitions: int, rf: int) -> None:
    def created() -> bool:
        try:
            admin.create_topics([NewTopic(topic, partitions, rf)])[topic].result(15)
            return True
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:  # still being deleted: retry
                return False
            raise

    _wait(f"{topic} to be created", created, sleep=0.5)
    _wait(f"{topic} to have {partitions} partitions with leaders",
          lambda: (c := partition_counts(admin, topic)) is not None and len(c) == partitions)


def delete_topics(admin: AdminClient, topics: list[str]) -> None:
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t for t in topics if t in existing]
    if not doomed:
        return
    for topic, fut in admin.delete_topics(doomed, operation_timeout=30).items():
        try:
            fut.result(30)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
    _wait(f"{', '.join(doomed)} to be deleted", lambda: not set(doomed) & set(admin.list_topics(timeout=10).topics))


def reset_topic(bootstrap: str, topic: str, partitions: int = 8, rf: int = 2) -> None:
    """A fresh, empty target topic: the same partitions and RF for every tool (none of them creates it)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    delete_topics(admin, [topic])
    create_topic(admin, topic, partitions, rf)


def write(producer: Producer, w: Workload, topic: str) -> None:
    """Every record of the workload, record i to partition i % partitions; fails unless all were delivered."""
    for i in range(w.records):
        p, seq = i % w.partitions, i // w.partitions
        key, value, headers = record(w, p, seq)
        while True:
            try:
                producer.produce(topic, value, key, p, headers=headers)
                break
            except BufferError:  # the queue is full: serve deliveries, then retry this record
                producer.poll(0.05)
    if producer.flush(300):
        raise BenchError(f"writing {w.name} into {topic}: not every record was delivered")


def preload(bootstrap: str, w: Workload, log=print) -> None:
    """Write the workload once; a topic already holding exactly it is kept."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if partition_counts(admin, w.topic) == w.per_partition():
        return
    log(f"preloading {w.records:,} records of {w.name} into {w.topic} on the primary")
    delete_topics(admin, [w.topic])
    create_topic(admin, w.topic, w.partitions, w.replication_factor)
    write(Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000,
                    "queue.buffering.max.messages": 1_000_000, "enable.idempotence": True}), w, w.topic)
    got = partition_counts(admin, w.topic)
    if got != w.per_partition():
        raise BenchError(f"preload of {w.topic} wrote {got} records per partition, expected {w.per_partition()}")


@dataclass(frozen=True)
class Completeness:
    """What the target holds, traced back to the source, record by record."""
    expected: int
    received: int
    missing: int
    duplicates: int
    moved: int  # records on another partition than their source partition
    malformed: int  # a key or header that is not the source's
    target_counts: tuple[int, ...]

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.malformed == 0


def read_back(bootstrap: str, topic: str, timeout_s: float = 300.0):
    """Every record of `topic` as it is now, partition by partition in offset order (committed records only)."""
    counts = partition_counts(AdminClient({"bootstrap.servers": bootstrap}), topic)
    if counts is None:
        raise BenchError(f"{topic} is not readable on {bootstrap}")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-trace", "enable.auto.commit": False,
                         "enable.partition.eof": True, "isolation.level": "read_committed"})
    consumer.assign([TopicPartition(topic, p, -2) for p in range(len(counts))])
    open_parts = {p for p, n in enumerate(counts) if n > 0}
    deadline = time.monotonic() + timeout_s
    try:
        while open_parts and time.monotonic() < deadline:
            for m in consumer.consume(10000, 1.0):
                if m.error() is None:
                    yield m
                elif m.error().code() == KafkaError._PARTITION_EOF:
                    open_parts.discard(m.partition())
                else:
                    raise BenchError(f"reading {topic} back: {m.error()}")
    finally:
        consumer.close()
    if open_parts:
        raise BenchError(f"reading {topic} back did not reach the end of partitions {sorted(open_parts)}")


def trace(bootstrap: str, w: Workload, topic: str) -> Completeness:
    """Read the whole target topic and tick off each source record (partition, sequence)."""
    counts = partition_counts(AdminClient({"bootstrap.servers": bootstrap}), topic) or []
    seen = [bytearray(n) for n in w.per_partition()]
    received = duplicates = moved = malformed = 0
    for m in read_back(bootstrap, topic):
        received += 1
        try:
            p, seq = identity(m.value())
            mark = seen[p]
            if mark[seq]:
                duplicates += 1
            mark[seq] = 1
        except (IndexError, struct.error):  # a foreign or damaged record
            malformed += 1
            continue
        if m.partition() != p:
            moved += 1
        if w.keys_headers and (m.key() != key_of(p, seq) or len(m.headers() or ()) != 3):
            malformed += 1
    missing = sum(s.count(0) for s in seen)
    return Completeness(w.records, received, missing, duplicates, moved, malformed, tuple(counts))
