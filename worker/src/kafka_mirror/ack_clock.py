"""Replication latency without a delivery report per record.

A success report costs the stream about 0.5 us of its Python thread per record (a Message object and a callback:
bench/loop_profile.py), so the producer reports failures only (delivery.report.only.error) unless the offset map
needs each target offset. Acknowledgements are then counted, not seen: every record handed to the producer is in its
queue (rd_kafka_outq_len, `len(producer)`) until the target acknowledges it or it fails. Each loop pass leaves a
mark (records handed so far, the timestamp of the pass's last record); once as many records have left the queue as
the mark counts, that record is taken as acknowledged. librdkafka keeps each partition's order, not an order across
partitions, so a mark can be passed a little before its own record is acknowledged: the histogram is an estimate of
the newest acknowledged record's age, sampled once per pass, split at the moment its fetch returned (the source's
part before, the mirror's and the target's after). Failed and purged records also leave the queue: the stream forgets
the marks whenever it cuts the producer.
"""
from __future__ import annotations

from collections import deque
from typing import NamedTuple

MARKS = 4096  # passes in flight at most: a stalled target stops the marks growing past this (oldest dropped)


class Ack(NamedTuple):
    """The newest record counted as acknowledged, its latency in two parts (seconds): age = fetched_age + after."""

    age: float  # record timestamp to acknowledgement
    fetched_age: float  # record timestamp to the fetch that returned it (producer, source, fetch, loop)
    after: float  # that fetch's return to acknowledgement (hand-over, producer, target)


class AckClock:
    def __init__(self) -> None:
        self.handed = 0  # records handed to the producer since the last forget()
        # (handed at the pass's end, its last record's timestamp ms, when its fetch returned: time.time())
        self.marks: deque[tuple[int, int, float]] = deque(maxlen=MARKS)

    def pass_end(self, sent: int, timestamp_ms: int | None, fetched_s: float) -> None:
        """A pass handed `sent` records, the last of them written at `timestamp_ms` (None: no timestamp) and fetched
        at `fetched_s`."""
        if sent:
            self.handed += sent
            if timestamp_ms is not None and timestamp_ms > 0:
                self.marks.append((self.handed, timestamp_ms, fetched_s))

    def acknowledged(self, queued: int, now_s: float) -> Ack | None:
        """The newest record now counted as acknowledged, if a mark was passed since the last call; `queued`: the
        producer's queue length, its delivery reports served."""
        left = self.handed - queued
        newest = None
        marks = self.marks
        while marks and marks[0][0] <= left:
            newest = marks.popleft()
        if newest is None:
            return None
        _, timestamp_ms, fetched_s = newest
        written_s = timestamp_ms / 1000
        fetched_age = max(0.0, fetched_s - written_s)
        after = max(0.0, now_s - fetched_s)
        return Ack(fetched_age + after, fetched_age, after)

    def forget(self) -> None:
        """The producer's queue was cut or purged: what left it was not acknowledged."""
        self.handed = 0
        self.marks.clear()
