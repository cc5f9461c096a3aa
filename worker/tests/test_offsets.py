"""Watermark commits, partition choice, topic plans, health: pure."""
from __future__ import annotations

import time

from kafka_mirror.metrics import Heartbeat, health, write_heartbeat
from kafka_mirror.offsets import Failure, OffsetTracker
from kafka_mirror.partitioning import HOLD_ALL, partition_limits
from kafka_mirror.topics import plan


def _handed(t: OffsetTracker, latest: dict, first: dict | None = None) -> None:
    t.handed_over(latest, first or latest)


def test_commit_plan_is_the_offset_after_the_last_handed_over_record():
    t = OffsetTracker()
    _handed(t, {("a", 0): 41, ("a", 1): 9, ("b", 0): 0})
    assert t.plan() == {("a", 0): 42, ("a", 1): 10, ("b", 0): 1}
    t.committed_ok(t.plan())
    assert t.plan() == {}  # nothing new: nothing to commit
    _handed(t, {("a", 0): 50})
    assert t.plan() == {("a", 0): 51}


def test_records_still_in_flight_after_a_flush_commit_nothing():
    t = OffsetTracker()
    _handed(t, {("a", 0): 9})
    assert t.plan(in_flight=3) == {}


def test_a_failed_partition_is_never_committed_past_on_any_later_plan():
    t = OffsetTracker()
    _handed(t, {("a", 0): 9, ("b", 0): 4})
    t.committed_ok({("a", 0): 10, ("b", 0): 5})
    _handed(t, {("a", 0): 19, ("b", 0): 14, ("a", 1): 3}, {("a", 0): 10, ("b", 0): 5, ("a", 1): 0})
    t.failed(Failure("a", 0, None, 100, "_MSG_TIMED_OUT", "timed out"))
    assert t.plan() == {("b", 0): 15, ("a", 1): 4}
    assert t.plan(only=[("a", 0)]) == {}  # the revoke and close paths ask the same question
    assert t.rewind() == {("a", 0): 10}
    assert ("a", 0) not in t.pending and t.failures == []


def test_two_topics_failing_with_the_same_error_both_stay_uncommitted():
    t = OffsetTracker()
    _handed(t, {("a", 0): 9, ("b", 0): 4, ("c", 0): 1})
    t.failed(Failure("a", 0, None, 10, "_MSG_TIMED_OUT", "timed out"))
    t.failed(Failure("b", 0, None, 10, "_MSG_TIMED_OUT", "timed out"))
    assert t.plan() == {("c", 0): 2}


def test_a_failure_whose_partition_the_target_chose_blocks_the_whole_topic():
    t = OffsetTracker()
    _handed(t, {("a", 0): 9, ("a", 1): 4, ("b", 0): 1})
    t.failed(Failure("a", None, None, 10, "_MSG_TIMED_OUT", "timed out"))
    assert t.plan() == {("b", 0): 2}
    assert t.rewind() == {("a", 0): 9, ("a", 1): 4}  # never committed: back to where this member started


def test_a_failure_at_a_known_offset_commits_up_to_it_and_no_further():
    t = OffsetTracker()
    _handed(t, {("a", 0): 20}, {("a", 0): 10})
    t.failed(Failure("a", 0, 15, 2_000_000, "MSG_SIZE_TOO_LARGE", "too large"))
    assert t.plan() == {("a", 0): 15}  # a restart resumes at the rejected record, nothing before it again
    t.failed(Failure("a", 0, None, 10, "MSG_SIZE_TOO_LARGE", "too large"))  # a batch-mate, offset unknown
    assert t.plan() == {}


def test_forget_revoked_partitions():
    t = OffsetTracker()
    _handed(t, {("a", 0): 1, ("a", 1): 1})
    t.failed(Failure("a", 0, None, 10, "_MSG_TIMED_OUT", "timed out"))
    t.forget([("a", 0)])
    assert t.plan() == {("a", 1): 2} and t.failures == []


def test_a_failure_placed_by_the_producer_goes_with_the_last_partition_of_its_topic():
    """Kept, it would block nothing and hold the stream failing, with nothing left to rewind (a loop, never a stop)."""
    for give_up in ("forget", "rewind"):
        t = OffsetTracker()
        t.handed_over({("a", 5): 9, ("b", 0): 3}, {("a", 5): 0, ("b", 0): 0})
        t.failed(Failure("a", None, None, 10, "_MSG_TIMED_OUT", "timed out"))
        if give_up == "forget":
            t.forget([("a", 5)])
        else:
            t.rewind([("a", 5)])
        assert t.failures == [] and t.plan() == {("b", 0): 4}


def test_partition_kept_only_when_the_target_has_enough_and_never_when_the_producer_places_records():
    source, target = {"a": 8, "b": 8, "c": 8}, {"a": 8, "b": 12, "c": 4}  # c: the target has fewer
    assert partition_limits(source, target, "source") == {"a": 8, "b": 12, "c": 0}
    assert partition_limits(source, {}, "source") == {"a": 0, "b": 0, "c": 0}  # not created yet
    assert partition_limits(source, target, "producer") == {"a": 0, "b": 0, "c": 0}
    # Asked to be made or grown and not seen so yet: what the target has is kept, the rest waits (HOLD_ALL: all of it)
    growing = {"c", "d"}
    assert partition_limits({**source, "d": 2}, target, "source", growing) == {"a": 8, "b": 12, "c": 4, "d": HOLD_ALL}
    assert partition_limits({**source, "d": 2}, target, "producer", growing)["c"] == 0


def test_topic_plan():
    p = plan({"a": 8, "b": 4, "c": 2}, {"b": 2, "c": 3}, create=True)
    assert p.create == {"a": 8} and p.grow == {"b": 4}
    assert plan({"a": 8}, {}, create=False).create == {}


def test_health_ready_only_when_every_stream_runs_and_commits(tmp_path):
    write_heartbeat(tmp_path, Heartbeat(stream=0, pid=1, state="running", assigned=4, last_commit=time.time()))
    write_heartbeat(tmp_path, Heartbeat(stream=1, pid=2, state="running", assigned=0))
    assert not health(tmp_path, 2, 5.0, [True, True])[0]  # stream 1 has not checkpointed: not in the group yet
    write_heartbeat(tmp_path, Heartbeat(stream=1, pid=2, state="running", assigned=0, last_commit=time.time()))
    ready, body = health(tmp_path, 2, 5.0, [True, True])
    assert ready and body["status"] == "ready"  # no partitions, but checkpointing: healthy
    assert not health(tmp_path, 2, 5.0, [True, False])[0]  # a dead stream
    write_heartbeat(tmp_path, Heartbeat(stream=0, pid=1, state="running", assigned=4, last_commit=time.time() - 600))
    ready, body = health(tmp_path, 2, 5.0, [True, True])
    assert not ready and body["streams"][0]["seconds_since_last_commit"] >= 600
    assert not health(tmp_path, 3, 5.0, [True, True, True])[0]  # stream 2 never reported
