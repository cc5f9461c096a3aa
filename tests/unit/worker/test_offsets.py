"""Watermark commits, partition choice, topic plans, health: pure."""
from __future__ import annotations

import time

from kafka_mirror.metrics import Heartbeat, health, write_heartbeat
from kafka_mirror.offsets import OffsetTracker
from kafka_mirror.partitioning import UNASSIGNED, keeps_partition, target_partition
from kafka_mirror.topics import plan


def test_commit_plan_is_the_offset_after_the_last_handed_over_record():
    t = OffsetTracker()
    t.handed_over({("a", 0): 41, ("a", 1): 9, ("b", 0): 0})
    assert t.commit_plan(set()) == {("a", 0): 42, ("a", 1): 10, ("b", 0): 1}
    t.committed_ok(t.commit_plan(set()))
    assert t.commit_plan(set()) == {}  # nothing new: nothing to commit
    t.handed_over({("a", 0): 50})
    assert t.commit_plan(set()) == {("a", 0): 51}


def test_a_failed_topic_is_never_committed_past_and_is_rewound_to_its_last_commit():
    t = OffsetTracker()
    t.handed_over({("a", 0): 9, ("b", 0): 4})
    t.committed_ok({("a", 0): 10, ("b", 0): 5})
    t.handed_over({("a", 0): 19, ("b", 0): 14})
    assert t.commit_plan({"a"}) == {("b", 0): 15}
    assert t.rewind({"a"}) == {("a", 0): 10}
    assert ("a", 0) not in t.pending
    t2 = OffsetTracker()
    t2.handed_over({("a", 3): 7})
    assert t2.rewind({"a"}) == {("a", 3): None}  # never committed here: the group's committed offset


def test_forget_revoked_partitions():
    t = OffsetTracker()
    t.handed_over({("a", 0): 1, ("a", 1): 1})
    t.forget([("a", 0)])
    assert t.commit_plan(set()) == {("a", 1): 2}


def test_partition_kept_only_when_the_target_has_enough():
    assert keeps_partition(8, 8) and keeps_partition(8, 12) and not keeps_partition(8, 4)
    assert target_partition(5, True) == 5 and target_partition(5, False) == UNASSIGNED


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
