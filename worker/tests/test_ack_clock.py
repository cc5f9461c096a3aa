"""AckClock: the latency histogram's samples counted from the producer's queue instead of a report per record."""
from __future__ import annotations

import pytest

from kafka_mirror.ack_clock import MARKS, Ack, AckClock


def test_a_pass_counts_as_acknowledged_once_its_records_have_left_the_queue():
    c = AckClock()
    c.pass_end(100, 1_000_000, 1000.5)  # records 1-100, the last written at t=1000 s, fetched at 1000.5
    c.pass_end(50, 1_002_000, 1002.25)  # records 101-150, at t=1002 s
    assert c.acknowledged(queued=150, now_s=1003.0) is None  # nothing left the queue
    assert c.acknowledged(queued=51, now_s=1003.0) is None  # 99 out: the first pass not yet
    # 100 out: the first pass, 3.5 s after its last record was written, 3 s after its fetch returned
    assert c.acknowledged(queued=50, now_s=1003.5) == Ack(3.5, 0.5, 3.0)
    assert c.acknowledged(queued=50, now_s=1004.0) is None  # no new mark passed: no sample
    assert c.acknowledged(queued=0, now_s=1004.0) == Ack(2.0, 0.25, 1.75)  # both passed at once: the newest one


def test_the_two_parts_add_up_to_the_age_even_when_clocks_disagree():
    """A record timestamp ahead of this host's clock (another host's producer): no part is negative, and the parts are
    still the sample's whole."""
    c = AckClock()
    c.pass_end(1, 1_000_500, 1000.0)  # written "after" it was fetched
    ack = c.acknowledged(queued=0, now_s=1000.2)
    assert ack.fetched_age == 0.0 and ack.after == pytest.approx(0.2) and ack.age == ack.fetched_age + ack.after


def test_a_cut_forgets_the_marks_and_what_is_still_queued_is_not_taken_for_acknowledged():
    c = AckClock()
    c.pass_end(100, 1_000_000, 1000.0)
    c.forget()  # purged: what left the queue was not acknowledged
    assert c.acknowledged(queued=0, now_s=1001.0) is None
    c.pass_end(10, 1_005_000, 1005.0)
    assert c.acknowledged(queued=30, now_s=1006.0) is None  # 20 old records still reporting: counted as in the queue
    assert c.acknowledged(queued=0, now_s=1006.0).age == 1.0


def test_records_without_a_timestamp_count_but_leave_no_sample():
    c = AckClock()
    c.pass_end(5, None, 1000.0)
    c.pass_end(0, 1_000_000, 1000.0)  # nothing handed: no mark
    assert c.acknowledged(queued=0, now_s=1001.0) is None
    assert c.handed == 5


def test_a_stalled_target_keeps_the_marks_bounded():
    c = AckClock()
    for i in range(MARKS * 2):
        c.pass_end(1, 1_000_000 + i, 1000.0 + i / 1000)
    assert len(c.marks) == MARKS
    assert c.acknowledged(queued=0, now_s=2000.0).age == pytest.approx(2000.0 - (1_000_000 + 2 * MARKS - 1) / 1000)
