"""kafka_group_failover's pure parts: the offsets given, which are set, skipped or refused, and the change."""
from __future__ import annotations

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import KafkaModuleError
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka_groups import (
    GroupState, PartitionChange, Row, choose, commit_failure, parse_offsets, plan, refuse_members, refuse_missing)


def translated(partition, target, status="exact", source=None, reread=0, reason="", topic="orders"):
    """A row as kafka-mirror offsets translate --json prints it (worker/src/kafka_mirror/translate.py)."""
    return {"topic": topic, "partition": partition, "source_offset": source, "target_offset": target,
            "status": status, "reread_at_most": reread, "reason": reason}


ROWS = [translated(1, 1, source=0), translated(0, 19501, source=19520),
        translated(2, 30101, "inexact", source=100, reread=20, reason="beyond what the map has verified"),
        translated(3, None, "unmapped", source=7, reason="the map starts at source offset 400")]
MARKS = {("orders", p): (0, 40000) for p in range(4)}


def test_translated_rows_and_offsets_by_hand_become_rows_sorted():
    rows = parse_offsets("g", ROWS + [{"topic": "clicks", "partition": 0, "offset": 5}])
    assert [r.name for r in rows] == ["clicks:0", "orders:0", "orders:1", "orders:2", "orders:3"]
    assert rows[0] == Row("clicks", 0, 5)
    assert rows[1] == Row("orders", 0, 19501, "exact", 19520)
    assert rows[4].unmapped and rows[4].offset is None


@pytest.mark.parametrize("item,problem", [
    ({"topic": "orders", "partition": 0, "offset": -5}, "offsets[1] (orders:0): offset must be a whole number >= 0"),
    ({"topic": "orders", "partition": 0, "target_offset": -1}, "target_offset must be a whole number >= 0, not -1"),
    ({"topic": "orders", "partition": -1, "offset": 5}, "offsets[1] (topic orders) needs partition, a whole number"),
    ({"topic": "orders", "partition": None, "offset": 5}, "needs partition, a whole number >= 0, not None"),
    ({"topic": "", "partition": 0, "offset": 5}, "offsets[1] needs topic"),
    ({"topic": "orders", "partition": 0, "offset": True}, "offset must be a whole number >= 0, not True"),
    ({"topic": "orders", "partition": 0, "offset": 1, "target_offset": 2}, "has both offset and target_offset"),
    ({"topic": "orders", "partition": 0, "offset": 1, "source_offset": -3}, "source_offset must be a whole number"),
    ({"topic": "orders", "partition": 1, "offset": 5}, "offsets[1] orders:1 repeats offsets[0]"),
])
def test_bad_items_are_named_by_index_and_nothing_is_changed(item, problem):
    with pytest.raises(KafkaModuleError) as exc:
        parse_offsets("g", [{"topic": "orders", "partition": 1, "offset": 3}, item])
    assert exc.value.msg.startswith("Cannot set the offsets of group 'g': ")
    assert problem in exc.value.msg and exc.value.msg.endswith("nothing was changed")


def test_every_bad_item_is_named_at_once():
    with pytest.raises(KafkaModuleError) as exc:
        parse_offsets("g", [{"topic": "t", "partition": p, "offset": -1} for p in range(12)])
    assert len(exc.value.details["problems"]) == 12
    assert "offsets[9]" in exc.value.msg and "offsets[10]" not in exc.value.msg and "and 2 more" in exc.value.msg


def test_an_empty_group_or_offsets_list_is_refused_saying_what_to_give():
    with pytest.raises(KafkaModuleError, match="group is empty: name the consumer group"):
        parse_offsets(" ", ROWS)
    with pytest.raises(KafkaModuleError, match="offsets is empty. Give the partitions to set"):
        parse_offsets("g", [])


def test_unmapped_rows_are_refused_naming_them_and_the_way_out():
    with pytest.raises(KafkaModuleError) as exc:
        choose("orders-service", parse_offsets("g", ROWS), False, False)
    assert "Cannot fail over group 'orders-service': no safe offset on the secondary for orders:3 (the map starts " \
           "at source offset 400); nothing was changed" in exc.value.msg
    assert "allow_incomplete: true" in exc.value.msg and exc.value.details["unmapped"] == ["orders:3"]


def test_a_null_target_offset_is_unmapped_whatever_its_status():
    with pytest.raises(KafkaModuleError, match="no safe offset on the secondary for orders:0 \\(unmapped\\)"):
        choose("g", parse_offsets("g", [translated(0, None, "exact")]), False, False)


def test_allow_incomplete_skips_unmapped_rows_and_sets_the_others():
    choice = choose("g", parse_offsets("g", ROWS), False, True)
    assert [r.name for r in choice.to_set] == ["orders:0", "orders:1", "orders:2"]
    assert [r.name for r in choice.skipped] == ["orders:3"]
    todo = plan("g", choice, {}, MARKS)
    assert todo.as_result()["not_set"] == [{"topic": "orders", "partition": 3, "status": "unmapped",
                                            "source_offset": 7, "reason": "the map starts at source offset 400"}]
    assert any("no safe offset for orders:3 (allow_incomplete): not set" in w for w in todo.warnings)


def test_inexact_rows_are_set_by_default_and_refused_with_require_exact():
    rows = parse_offsets("g", ROWS[:3])
    assert [r.name for r in choose("g", rows, False, False).to_set] == ["orders:0", "orders:1", "orders:2"]
    with pytest.raises(KafkaModuleError) as exc:
        choose("g", rows, True, False)
    assert "with require_exact: orders:2 is inexact (may re-read 20: beyond what the map has verified)" in exc.value.msg
    assert "set require_exact: false" in exc.value.msg and exc.value.details["inexact"] == ["orders:2"]


def test_require_exact_takes_offsets_given_by_hand_as_given():
    rows = parse_offsets("g", [{"topic": "orders", "partition": 0, "offset": 5}])
    assert choose("g", rows, True, False).to_set == rows


def test_the_change_is_what_differs_with_before_after_and_lag():
    choice = choose("g", parse_offsets("g", ROWS[:3]), False, False)
    todo = plan("g", choice, {("orders", 0): 19501, ("orders", 1): 0}, MARKS)
    assert todo.changed and [c.name for c in todo.changes] == ["orders:1", "orders:2"]
    assert todo.partitions[0] == PartitionChange("orders", 0, 19501, 19501, 40000 - 19501, "exact", 19520)
    assert todo.as_result()["partitions"][2] == {"topic": "orders", "partition": 2, "before": None, "after": 30101,
                                                 "lag": 9899, "status": "inexact", "source_offset": 100,
                                                 "clamped_from": None}
    assert todo.diff() == {"prepared": "group g\norders:1: 0 -> 1\norders:2: none -> 30101\n"}


def test_nothing_differs_nothing_changes():
    choice = choose("g", parse_offsets("g", ROWS[:2]), False, False)
    todo = plan("g", choice, {("orders", 0): 19501, ("orders", 1): 1}, MARKS)
    assert not todo.changed and todo.diff() == {"prepared": ""} and not todo.warnings


def test_every_row_unmapped_is_refused_even_with_allow_incomplete():
    with pytest.raises(KafkaModuleError) as exc:
        choose("g", parse_offsets("g", ROWS[3:] + [translated(4, None, "unmapped")]), False, True)
    assert exc.value.msg.startswith("Cannot fail over group 'g': no partition had a safe offset on the secondary "
                                    "(orders:3: the map starts at source offset 400, orders:4: unmapped); nothing "
                                    "was changed")
    assert exc.value.details["unmapped"] == ["orders:3", "orders:4"]


def test_a_group_ahead_on_the_secondary_is_refused_unless_allow_rewind():
    choice = choose("g", parse_offsets("g", ROWS[:3]), False, False)
    ahead = {("orders", 0): 19600, ("orders", 1): 1, ("orders", 2): 30000}
    with pytest.raises(KafkaModuleError) as exc:
        plan("g", choice, ahead, MARKS)
    assert "ahead of the one to set for orders:0 (19600 -> 19501); nothing was changed" in exc.value.msg
    assert "re-run after they resumed on the secondary" in exc.value.msg and "allow_rewind: true" in exc.value.msg
    assert exc.value.details["rewind"] == ["orders:0"]
    todo = plan("g", choice, ahead, MARKS, allow_rewind=True)
    assert [(c.name, c.before, c.after) for c in todo.changes] == [("orders:0", 19600, 19501),
                                                                 ("orders:2", 30000, 30101)]


def test_rewinds_are_named_up_to_max_named_and_no_commit_there_is_never_one():
    choice = choose("g", parse_offsets("g", [translated(p, 5) for p in range(12)]), False, False)
    marks = {("orders", p): (0, 100) for p in range(12)}
    with pytest.raises(KafkaModuleError) as exc:
        plan("g", choice, {("orders", p): 50 for p in range(12)}, marks)
    assert "orders:9 (50 -> 5) and 2 more" in exc.value.msg and len(exc.value.details["rewind"]) == 12
    assert plan("g", choice, {}, marks).changed


def test_an_offset_past_the_end_on_the_secondary_is_refused():
    choice = choose("g", parse_offsets("g", [translated(0, 40001), translated(1, 40000)]), False, False)
    with pytest.raises(KafkaModuleError) as exc:
        plan("g", choice, {}, MARKS)
    assert "offset 40001 of orders:0 is past its end on the secondary (40000); nothing was changed" in exc.value.msg
    assert exc.value.details["past_end"] == ["orders:0"]


def test_an_offset_below_the_log_start_is_set_to_the_log_start_with_a_warning():
    choice = choose("g", parse_offsets("g", [translated(0, 10), translated(1, 600)]), False, False)
    todo = plan("g", choice, {}, {("orders", 0): (500, 900), ("orders", 1): (500, 900)})
    assert todo.partitions[0] == PartitionChange("orders", 0, None, 500, 400, "exact", None, 10)
    assert todo.as_result()["partitions"][0]["clamped_from"] == 10
    assert todo.as_result()["partitions"][1]["clamped_from"] is None and todo.partitions[1].after == 600
    assert todo.warnings == ("group g: offset 10 of orders:0 is below the log start offset 500: records deleted by "
                             "retention on the secondary; set to the log start offset instead (from a deleted offset "
                             "auto.offset.reset would apply and, latest by default, skip every record still there)",)
    # Already at the log start there: nothing to change, not a rewind.
    assert not plan("g", choice, {("orders", 0): 500, ("orders", 1): 600},
                    {("orders", 0): (500, 900), ("orders", 1): (500, 900)}).changed


@pytest.mark.parametrize("state,members", [("STABLE", 3), ("PREPARING_REBALANCING", 1), ("COMPLETING_REBALANCING", 2)])
def test_a_group_with_members_is_refused_naming_state_and_count(state, members):
    with pytest.raises(KafkaModuleError) as exc:
        refuse_members("orders-service", GroupState(state, members), "10.1.0.11:9092")
    assert exc.value.msg.startswith("Cannot fail over group 'orders-service' on 10.1.0.11:9092: it has %d active "
                                    "member" % members)
    assert "(state %s). Stop the group's consumers on the secondary first" % state in exc.value.msg
    assert exc.value.details == {"group_state": state, "members": members}


def test_a_group_between_states_is_refused_until_it_settles():
    with pytest.raises(KafkaModuleError) as exc:
        refuse_members("g", GroupState("PREPARING_REBALANCING", 0), "b:9092")
    assert exc.value.msg == ("Cannot fail over group 'g' on b:9092: its state on this cluster is "
                             "PREPARING_REBALANCING, neither EMPTY nor DEAD. Wait until its consumers there have left, "
                             "then run this again")


@pytest.mark.parametrize("state", ["EMPTY", "DEAD"])
def test_an_empty_or_dead_group_may_fail_over(state):
    refuse_members("g", GroupState(state, 0), "b:9092")


def test_missing_topics_and_partitions_are_named():
    rows = parse_offsets("g", [translated(9, 1), translated(0, 1), translated(0, 1, topic="gone"),
                               translated(1, 1, topic="gone")])
    with pytest.raises(KafkaModuleError) as exc:
        refuse_missing("g", rows, {"orders": 8}, "b:9092")
    assert "the secondary (b:9092) has no topic 'gone' (offsets of gone:0, gone:1); topic 'orders' has 8 " \
           "partitions, so no orders:9; nothing was changed" in exc.value.msg
    refuse_missing("g", tuple(r for r in rows if r.name == "orders:0"), {"orders": 8}, "b:9092")


def test_a_refused_commit_names_each_partition_and_what_was_committed():
    changes = (PartitionChange("orders", 0, None, 5, 0), PartitionChange("orders", 1, None, 6, 0))
    error = commit_failure("g", [("orders", 0, "UNKNOWN_MEMBER_ID", "Broker: Unknown member")], changes)
    assert error.msg.startswith("Cannot commit the offsets of group 'g' for orders:0: UNKNOWN_MEMBER_ID (Broker: "
                                "Unknown member). A consumer of the group joined since the check")
    assert error.msg.endswith("Committed: orders:1") and error.details["failed"] == ["orders:0"]
    other = commit_failure("g", [("orders", 0, "TOPIC_AUTHORIZATION_FAILED", "denied"),
                                 ("orders", 1, "TOPIC_AUTHORIZATION_FAILED", "denied")], changes)
    assert "joined" not in other.msg and other.msg.endswith("Committed: none")
