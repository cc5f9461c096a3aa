"""The application whose group is failed over: it reads on the primary at a steady rate and commits what it has
processed every second; after the failover it reads on the secondary. Each runs in a process of its own."""
from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from mirrorbench.clusters import BenchError
from mirrorfaults.stream import identity

COMMIT_EVERY_S = 1.0


def _consumer(bootstrap: str, group: str) -> Consumer:
    # earliest: a partition the failover left without an offset is then re-read in full, never skipped unseen
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "isolation.level": "read_committed"})


def _read(bootstrap: str, group: str, topics: list[str], rate: float, out: str, stop) -> None:
    """Read at most `rate` records/s until `stop`, committing the processed positions every second (synchronously,
    and once more on stop). Writes [topic, partition, sequence] of each record read, in order, to `out`."""
    consumer = _consumer(bootstrap, group)
    consumer.subscribe(topics)
    reads: list[tuple[str, int, int]] = []
    positions: dict[tuple[str, int], int] = {}
    start = last_commit = time.monotonic()
    try:
        while not stop.is_set():
            budget = int((time.monotonic() - start) * rate) - len(reads) if rate else 1000
            if budget <= 0:
                time.sleep(0.01)
                continue
            for m in consumer.consume(min(budget, 1000), 0.2):
                if m.error() is not None:
                    continue
                positions[(m.topic(), m.partition())] = m.offset() + 1
                record = identity(m.key(), m.value())
                if record is not None:  # not the setup run's canary
                    reads.append((m.topic(), *record))
            if time.monotonic() - last_commit >= COMMIT_EVERY_S and positions:
                consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()],
                                asynchronous=False)
                last_commit = time.monotonic()
        if positions:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=False)
    finally:
        consumer.close()
        Path(out).write_text(json.dumps(reads))


class Reader:
    """One member of the group in its own process."""

    def __init__(self, bootstrap: str, group: str, topics: list[str], rate: float, out: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.out = out
        self.stop_event = ctx.Event()
        self.proc = ctx.Process(target=_read, args=(bootstrap, group, topics, rate, str(out), self.stop_event),
                                name=f"reader-{group}", daemon=True)
        self.proc.start()

    def stop(self) -> list[tuple[str, int, int]]:
        self.stop_event.set()
        self.proc.join(120)
        if self.proc.is_alive() or self.proc.exitcode != 0:
            self.proc.kill()
            raise BenchError(f"the group's reader did not stop cleanly (exit {self.proc.exitcode})")
        return [tuple(r) for r in json.loads(self.out.read_text())]


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets (an idle consumer of the group: it does not join, so the group stays Empty)."""
    consumer = _consumer(bootstrap, group)
    try:
        got = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in got if tp.offset >= 0}
