"""The sequence-checked stream a fault scenario runs under, and the record-by-record read-back that judges it.

Records are numbered per source partition and carry a key (KEYS keys, each always in the same source partition)
and headers. The read-back of the target ticks off every record the SOURCE holds (read back too: a record whose
produce failed during a primary fault is not one the mirror could lose), and counts what is missing, what arrived
more than once, and per key every record that first arrived before one that precedes it on the source.
"""
from __future__ import annotations

import multiprocessing
import struct
import time
from dataclasses import dataclass

from confluent_kafka import Producer

from mirrorbench.clusters import BenchError, read_back

PARTITIONS = 8
KEYS = 64  # key k lives in source partition k % PARTITIONS
ID = struct.Struct(">IIQ")  # source partition, key, sequence within the partition
VALUE_SIZE = 100
PAD = bytes(VALUE_SIZE - ID.size)


def key_of(k: int) -> bytes:
    return b"key-%02d" % k


def identity(key: bytes | None, value: bytes | None) -> tuple[int, int] | None:
    """(source partition, sequence) of a record of the stream; None for any other record."""
    try:
        p, k, seq = ID.unpack_from(value or b"")
    except struct.error:
        return None
    return (p, seq) if key == key_of(k) and len(value) == VALUE_SIZE else None


def _produce(bootstrap: str, topic: str, rate: float, stop, produced) -> None:
    """A steady rate, record i with key i % KEYS; runs in its own process until `stop` is set."""
    # linger.ms 50: an idempotent producer lingering 5 ms took half a core at 2,000 records/s here (20 ms: 16%,
    # 50 ms: 12%), CPU the brokers restarted under the fault lacked on two cores.
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 50,
                         "delivery.timeout.ms": 600_000})
    seqs = [0] * PARTITIONS
    start = time.monotonic()
    i = 0
    while not stop.is_set():
        due = int((time.monotonic() - start) * rate)
        while i < due:
            k = i % KEYS
            p = k % PARTITIONS
            value = ID.pack(p, k, seqs[p]) + PAD
            try:
                producer.produce(topic, value, key_of(k), p, headers=[("fault-seq", struct.pack(">Q", seqs[p]))])
            except BufferError:
                break
            seqs[p] += 1
            i += 1
        producer.poll(0.01)
    producer.flush(600)
    produced.value = i


class SteadyStream:
    """The producer process of a scenario."""

    def __init__(self, bootstrap: str, topic: str, rate: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.stop_event = ctx.Event()
        self.produced = ctx.Value("q", 0)
        self.proc = ctx.Process(target=_produce, args=(bootstrap, topic, rate, self.stop_event, self.produced),
                                name="steady-stream", daemon=True)
        self.proc.start()

    def stop(self) -> int:
        self.stop_event.set()
        self.proc.join(660)
        if self.proc.is_alive():
            self.proc.kill()
            raise BenchError("the steady producer did not finish delivering within 660 s")
        return self.produced.value


@dataclass(frozen=True)
class Verdict:
    produced: int  # records on the source
    received: int  # records on the target, duplicates included
    missing: int
    duplicates: int
    order_violations: int  # per key: a record first arriving after a later record of its key
    malformed: int  # wrong key or headers, or not a record of the stream


class Tally:
    """Target records ticked off against the source's, in the target's order per partition."""

    def __init__(self, source: set[tuple[int, int]]) -> None:
        self.source = source  # (partition, sequence) of every source record
        self.seen: set[tuple[int, int]] = set()
        self.last_first: dict[int, int] = {}  # key -> sequence of its latest first arrival
        self.received = self.duplicates = self.order = self.malformed = 0

    def tick(self, key: bytes | None, value: bytes | None, headers) -> None:
        self.received += 1
        try:
            p, k, seq = ID.unpack_from(value or b"")
        except struct.error:
            self.malformed += 1
            return
        if key != key_of(k) or headers != [("fault-seq", struct.pack(">Q", seq))]:
            self.malformed += 1
        if (p, seq) not in self.source:
            return  # before the cut of the verdict (or foreign): not judged
        if (p, seq) in self.seen:
            self.duplicates += 1  # a repeat is not an order violation: its first arrival was judged already
            return
        self.seen.add((p, seq))
        if seq < self.last_first.get(k, -1):
            self.order += 1
        self.last_first[k] = max(seq, self.last_first.get(k, -1))

    def verdict(self) -> Verdict:
        return Verdict(len(self.source), self.received, len(self.source - self.seen), self.duplicates, self.order,
                       self.malformed)


def absent(bootstrap: str, topic: str) -> bool:
    """Whether the cluster has no such topic (a deleted target the tool did not create again)."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=30).topics.get(topic)
    return md is None or (md.error is not None and md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART)


def verdict(primary: str, secondary: str, source_topic: str, target_topic: str,
            since: dict[int, int] | None = None) -> Verdict:
    """`since`: per source partition, the first sequence that counts (a scenario that destroys the target's
    earlier records on purpose judges only what came after)."""
    source: set[tuple[int, int]] = set()

    def keep(m) -> None:
        p, _, seq = ID.unpack_from(m.value())
        if seq >= (since or {}).get(p, 0):
            source.add((p, seq))

    for m in read_back(primary, source_topic):
        keep(m)
    tally = Tally(source)
    for m in () if absent(secondary, target_topic) else read_back(secondary, target_topic):
        tally.tick(m.key(), m.value(), m.headers())
    return tally.verdict()
