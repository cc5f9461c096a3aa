"""AckClock: the latency histogram's samples counted from the producer's queue instead of a report per record."""
from __future__ import annotations

from kafka_mirror.ack_clock import MARKS, AckClock


def test_a_pass_counts_as_acknowledged_once_its_records_have_left_the_queue():
    c = AckClock()
    c.pass_end(100, 1_000_000)  # records 1-100, the last written at t=1000 s
    c.pass_end(50, 1_002_000)  # records 101-150, at t=1002 s
    assert c.acknowledged(queued=150, now_s=1003.0) is None  # nothing left the queue
    assert c.acknowledged(queued=51, now_s=1003.0) is None  # 99 out: the first pass not yet
    assert c.acknowledged(queued=50, now_s=1003.5) == 3.5  # 100 out: the first pass, 3.5 s after its last record
    assert c.acknowledged(queued=50, now_s=1004.0) is None  # no new mark passed: no sample
    assert c.acknowledged(queued=0, now_s=1004.0) == 2.0  # both passed at once: the newest one's age


def test_a_cut_forgets_the_marks_and_what_is_still_queued_is_not_taken_for_acknowledged():
    c = AckClock()
    c.pass_end(100, 1_000_000)
    c.forget()  # purged: what left the queue was not acknowledged
    assert c.acknowledged(queued=0, now_s=1001.0) is None
    c.pass_end(10, 1_005_000)
    assert c.acknowledged(queued=30, now_s=1006.0) is None  # 20 old records still reporting: counted as in the queue
    assert c.acknowledged(queued=0, now_s=1006.0) == 1.0


def test_records_without_a_timestamp_count_but_leave_no_sample():
    c = AckClock()
    c.pass_end(5, None)
    c.pass_end(0, 1_000_000)  # nothing handed: no mark
    assert c.acknowledged(queued=0, now_s=1001.0) is None
    assert c.handed == 5


def test_a_stalled_target_keeps_the_marks_bounded():
    c = AckClock()
    for i in range(MARKS * 2):
        c.pass_end(1, 1_000_000 + i)
    assert len(c.marks) == MARKS
    assert c.acknowledged(queued=0, now_s=2000.0) == 2000.0 - (1_000_000 + 2 * MARKS - 1) / 1000
