"""Replication latency without a delivery report per record.

A success report costs the stream about 0.5 us of its Python thread per record (a Message object and a callback:
bench/loop_profile.py), so the producer reports failures only (delivery.report.only.error) unless the offset map
needs each target offset. Acknowledgements are then counted, not seen: every record handed to the producer is in its
queue (rd_kafka_outq_len, `len(producer)`) until the target acknowledges it or it fails. Each loop pass leaves a
mark (records handed so far, the timestamp of the pass's last record); once as many records have left the queue as
the mark counts, that record is taken as acknowledged. librdkafka keeps each partition's order, not an order across
partitions, so a mark can be passed a little before its own record is acknowledged: the histogram is an estimate of
the newest acknowledged record's age, sampled once per pass. Failed and purged records also leave the queue: the
stream forgets the marks whenever it cuts the producer.
"""
from __future__ import annotations

from collections import deque

MARKS = 4096  # passes in flight at most: a stalled target stops the marks growing past this (oldest dropped)


class AckClock:
    def __init__(self) -> None:
        self.handed = 0  # records handed to the producer since the last forget()
        self.marks: deque[tuple[int, int]] = deque(maxlen=MARKS)  # (handed at the pass's end, its last timestamp ms)

    def pass_end(self, sent: int, timestamp_ms: int | None) -> None:
        """A pass handed `sent` records, the last of them written at `timestamp_ms` (None: no timestamp)."""
        if sent:
            self.handed += sent
            if timestamp_ms is not None and timestamp_ms > 0:
                self.marks.append((self.handed, timestamp_ms))

    def acknowledged(self, queued: int, now_s: float) -> float | None:
        """The age in seconds of the newest record now counted as acknowledged, if a mark was passed since the last
        call; `queued`: the producer's queue length, its delivery reports served."""
        left = self.handed - queued
        newest = None
        marks = self.marks
        while marks and marks[0][0] <= left:
            newest = marks.popleft()[1]
        return None if newest is None else max(0.0, now_s - newest / 1000)

    def forget(self) -> None:
        """The producer's queue was cut or purged: what left it was not acknowledged."""
        self.handed = 0
        self.marks.clear()
