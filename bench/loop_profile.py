"""Where kafka-mirror's per-record Python time goes (issue 13, item 3), without brokers.

Usage: .venv/bin/python bench/loop_profile.py [--records 200000] [--rounds 5] [--run 1000] [--keys-headers]

The stream's loop (Stream._pass) runs over real confluent_kafka Message objects of 100 B handed to it by a stand-in
consumer, into a real librdkafka producer whose broker never answers (records queue up in librdkafka; its sending
and the delivery reports are left out, and measured apart). Each part is timed alone, CPU time of this process,
the best of the rounds (the least disturbed by the machine's other work):
- the whole loop per record, offset map off and on;
- produce() alone, with the loop's arguments;
- the Message accessors the loop calls (error, topic, partition, offset, len, timestamp, key, value, headers);
- the delivery callback, off and with the map.
What is left of the loop after produce() and the accessors is its own bookkeeping.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from confluent_kafka import Message, Producer

from kafka_mirror.config import MirrorConfig
from kafka_mirror.mirror import Stream
from kafka_mirror.offset_map import OffsetMap
from kafka_mirror.selection import TopicSelection

PARTITIONS = 8
BATCH = 10_000


class Handing:
    """A consumer that hands over prepared batches, and takes what the loop commits nothing to."""

    def __init__(self, batches: list[list[Message]]) -> None:
        self.batches = list(batches)

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        return self.batches.pop(0) if self.batches else []

    def resume(self, partitions) -> None:
        pass


class Counters:
    """The stream's metrics, doing nothing (Prometheus' own cost is per pass, not per record)."""

    def labels(self, *args):
        return self

    def inc(self, n: float = 1) -> None:
        pass

    observe = set = dec = inc

    def __getattr__(self, name: str):
        return self


def records(n: int, run: int, keyed: bool = False) -> list[list[Message]]:
    """Batches of BATCH records, `run` records of one partition after another (a fetch response holds a run);
    `keyed`: as mirrorbench's keys+headers workload, a 16-byte key and 3 headers."""
    offsets = [0] * PARTITIONS
    out, batch = [], []
    key, headers = (b"k" * 16, [("h1", b"x" * 10), ("h2", b"y" * 10), ("h3", b"z" * 10)]) if keyed else (None, None)
    for i in range(n):
        p = i // run % PARTITIONS
        batch.append(Message(topic="a", partition=p, offset=offsets[p], key=key, value=b"v" * 100, headers=headers,
                             timestamp=(1, 1_700_000_000_000)))
        offsets[p] += 1
        if len(batch) == BATCH:
            out.append(batch)
            batch = []
    return out + ([batch] if batch else [])


def producer(on_delivery=None) -> Producer:
    conf = {"bootstrap.servers": "127.0.0.1:1", "linger.ms": 20, "batch.size": 1_000_000,
            "queue.buffering.max.messages": 10_000_000, "queue.buffering.max.kbytes": 2_097_151, "log_level": 0}
    return Producer({**conf, "on_delivery": on_delivery} if on_delivery else conf)


def stream(mapped: bool) -> Stream:
    s = Stream(MirrorConfig(consumer={"group.id": "g"}, producer={}, topics=TopicSelection("a", None)), 0,
               Path(tempfile.mkdtemp()))
    s.metrics = Counters()
    s.limits = {"a": PARTITIONS}
    s.producer = producer(s._delivered_mapped if mapped else s._delivered)
    if mapped:
        s.offset_map = OffsetMap()
    return s


def cpu_ns(work, n: int) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) / n * 1e9


def loop(batches: list[list[Message]], mapped: bool, n: int) -> float:
    s = stream(mapped)
    s.consumer = Handing(batches)
    return cpu_ns(lambda: [s._pass() for _ in batches], n)


def produce_only(batches: list[list[Message]], n: int) -> float:
    p = producer()
    # what the loop passes, taken from the records beforehand: the accessors are timed on their own
    args = [[(m.value(), m.key(), m.partition(), m.headers()) for m in batch] for batch in batches]

    def work() -> None:
        produce = p.produce
        for batch in args:
            for value, key, partition, headers in batch:
                produce("a", value, key, partition, None, None, 1_700_000_000_000, headers)  # as the loop calls it
    return cpu_ns(work, n)


def accessors(batches: list[list[Message]], n: int) -> float:
    def work() -> None:
        for batch in batches:
            for m in batch:
                m.error(), m.topic(), m.partition(), m.offset(), len(m), m.timestamp(), m.key(), m.value(), \
                    m.headers()
    return cpu_ns(work, n)


def callbacks(batches: list[list[Message]], mapped: bool, n: int) -> float:
    s = stream(mapped)
    call = s._delivered_mapped if mapped else s._delivered
    return cpu_ns(lambda: [call(None, m) for batch in batches for m in batch], n)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--keys-headers", action="store_true", help="records with a 16-byte key and 3 headers")
    p.add_argument("--run", type=int, default=1000,
                   help="records of one partition in a row (1: every record another partition's, the worst case)")
    args = p.parse_args()
    n = args.records
    parts = {"loop, map off": lambda b: loop(b, False, n), "loop, map on": lambda b: loop(b, True, n),
             "produce() alone": lambda b: produce_only(b, n), "Message accessors alone": lambda b: accessors(b, n),
             "delivery callback, map off": lambda b: callbacks(b, False, n),
             "delivery callback, map on": lambda b: callbacks(b, True, n)}
    best = {name: min(measure(records(n, args.run, args.keys_headers)) for _ in range(args.rounds))
            for name, measure in parts.items()}
    for name, ns in best.items():
        print(f"{name:30} {ns:7.0f} ns/record")
    own = best["loop, map off"] - best["produce() alone"] - best["Message accessors alone"]
    print(f"{'loop bookkeeping (the rest)':30} {own:7.0f} ns/record")
    total = best["loop, map off"] + best["delivery callback, map off"]
    print(f"Python per record, map off: {total:.0f} ns -> at most {1e9 / total:,.0f} records/s per core before "
          "librdkafka's own work (fetch, send, reports)")


if __name__ == "__main__":
    main()
