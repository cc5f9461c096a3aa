"""The stream's fetch never waits while records are ready, and waits for one record when none are."""
from __future__ import annotations

from kafka_mirror.mirror import fetch


class FakeConsumer:
    """Behaves as confluent_kafka.Consumer.consume: up to n queued records; waits only when none are queued."""

    def __init__(self, queued: list, arriving: list) -> None:
        self.queued, self.arriving, self.calls = list(queued), list(arriving), []

    def consume(self, n: int, timeout: float) -> list:
        self.calls.append((n, timeout))
        if not self.queued and timeout > 0:
            self.queued, self.arriving = self.arriving, []
        out, self.queued = self.queued[:n], self.queued[n:]
        return out


def test_ready_records_are_taken_without_waiting():
    consumer = FakeConsumer(queued=["r1", "r2", "r3"], arriving=[])
    assert fetch(consumer, 2) == ["r1", "r2"]
    assert consumer.calls == [(2, 0)]


def test_with_nothing_ready_it_waits_for_the_first_record_only():
    consumer = FakeConsumer(queued=[], arriving=["r1", "r2"])
    assert fetch(consumer, 10000, wait_s=0.2) == ["r1"]
    assert consumer.calls == [(10000, 0), (1, 0.2)]
    assert fetch(consumer, 10000) == ["r2"]  # the rest of what arrived, again without waiting
    assert consumer.calls[-1] == (10000, 0)


def test_idle_returns_empty_after_one_bounded_wait():
    consumer = FakeConsumer(queued=[], arriving=[])
    assert fetch(consumer, 10000, wait_s=0.2) == []
    assert consumer.calls == [(10000, 0), (1, 0.2)]
