"""kafka_group_failover through main(): argument validation and messages, the refusals that change nothing, check
mode, the commit and the re-run that changes nothing, over stand-in clients.

The stand-ins only play back what our logic reads and sends; what Kafka does (a group's state and members, a commit
refused while it has members, the coordinator moving, the consumers then reading from the committed offsets) is
pinned on the lab's brokers in tests/integration.
"""
from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule
from confluent_kafka import ConsumerGroupState, KafkaError, KafkaException

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils import _kafka as kafka_utils
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils import _kafka_groups as groups_utils
from ansible_collections.ambari_kafka.mirroring.plugins.modules import kafka_group_failover

from ..module_args import patch_module_args

TRANSLATED = [  # kafka-mirror offsets translate --json's `partitions` (worker/src/kafka_mirror/translate.py)
    {"topic": "orders", "partition": 0, "source_offset": 19520, "target_offset": 19501, "status": "exact",
     "reread_at_most": 0, "reason": ""},
    {"topic": "orders", "partition": 1, "source_offset": 0, "target_offset": 1, "status": "exact",
     "reread_at_most": 0, "reason": ""},
]


def done(value=None, error=None):
    future = Future()
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(KafkaException(KafkaError(error)))
    return future


class Secondary:
    """What the module sees of the secondary: the group's state, its commits, the topics and their offsets."""

    def __init__(self, state=ConsumerGroupState.EMPTY, members=0, committed=None, topics=None):
        self.state, self.members = state, members
        self.offsets = dict(committed or {})
        self.topics = topics or {"orders": 8}
        self.commits = []  # what alter_consumer_group_offsets was sent
        self.consumers = 0
        self.describe_errors = []  # errors the next describe calls raise, in order
        self.commit_errors = {}  # (topic, partition) -> error name of the next commit

    # AdminClient
    def describe_consumer_groups(self, groups, request_timeout):
        if self.describe_errors:
            return {groups[0]: done(error=self.describe_errors.pop(0))}
        members = [SimpleNamespace(member_id="m%d" % i) for i in range(self.members)]
        return {groups[0]: done(SimpleNamespace(state=self.state, members=members))}

    def list_topics(self, timeout):
        return SimpleNamespace(topics={name: SimpleNamespace(partitions=dict.fromkeys(range(n)), error=None)
                                       for name, n in self.topics.items()})

    def alter_consumer_group_offsets(self, request, request_timeout):
        sent = {(tp.topic, tp.partition): tp.offset for tp in request[0].topic_partitions}
        self.commits.append(sent)
        answer = []
        for (topic, partition), offset in sent.items():
            error = self.commit_errors.get((topic, partition))
            if error is None:
                self.offsets[(topic, partition)] = offset
            answer.append(SimpleNamespace(topic=topic, partition=partition, offset=offset,
                                          error=None if error is None else KafkaError(error)))
        self.commit_errors = {}
        return {request[0].group_id: done(SimpleNamespace(topic_partitions=answer))}

    def poll(self, timeout):
        return 0

    # Consumer of the group
    def consumer(self, conf):
        assert conf["group.id"] == "orders-service" and conf["enable.auto.commit"] is False
        assert conf["bootstrap.servers"] == "10.1.0.11:9092"
        self.consumers += 1
        return self

    def committed(self, partitions, timeout):
        return [SimpleNamespace(topic=tp.topic, partition=tp.partition, error=None,
                                offset=self.offsets.get((tp.topic, tp.partition), -1001)) for tp in partitions]

    def get_watermark_offsets(self, tp, timeout, cached):
        return (0, 40000)

    def close(self):
        pass


LEFT_OUT = object()


class Done(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg", ""))
        self.result, self.failed = result, failed


def run(secondary, check_mode=False, diff=False, **args):
    args = {"bootstrap_servers": "10.1.0.11:9092", "group": "orders-service", "offsets": TRANSLATED,
            "_ansible_check_mode": check_mode, "_ansible_diff": diff, **args}
    args = {k: v for k, v in args.items() if v is not LEFT_OUT}
    warnings = []

    def exit_json(self, **result):
        raise Done(result, False)

    def fail_json(self, **result):
        raise Done(result, True)

    with patch_module_args(args), mock.patch.object(AnsibleModule, "exit_json", exit_json), \
            mock.patch.object(AnsibleModule, "fail_json", fail_json), \
            mock.patch.object(AnsibleModule, "warn", lambda self, text: warnings.append(text)), \
            mock.patch.object(kafka_utils, "AdminClient", lambda conf: secondary), \
            mock.patch("confluent_kafka.Consumer", secondary.consumer), \
            mock.patch.object(groups_utils.time, "sleep", lambda s: None):
        with pytest.raises(Done) as outcome:
            kafka_group_failover.main()
    outcome.value.result["warnings"] = warnings
    return outcome.value


def test_check_mode_reports_the_change_and_commits_nothing_then_the_commit_then_nothing():
    secondary = Secondary(committed={("orders", 0): 100})
    checked = run(secondary, check_mode=True, diff=True)
    assert not checked.failed and checked.result["changed"] and secondary.commits == []
    assert checked.result["diff"] == {"prepared": "group orders-service\norders:0: 100 -> 19501\norders:1: none -> 1\n"}
    assert checked.result["partitions"][0] == {"topic": "orders", "partition": 0, "before": 100, "after": 19501,
                                               "lag": 40000 - 19501, "status": "exact", "source_offset": 19520,
                                               "clamped_from": None}
    assert checked.result["group_state"] == "EMPTY"

    real = run(secondary, diff=True)
    assert real.result["changed"] and real.result["diff"] == checked.result["diff"]
    assert secondary.commits == [{("orders", 0): 19501, ("orders", 1): 1}]

    again = run(secondary)
    assert not again.result["changed"] and len(secondary.commits) == 1
    assert [p["before"] for p in again.result["partitions"]] == [19501, 1]


def test_only_the_partitions_that_differ_are_committed():
    secondary = Secondary(committed={("orders", 0): 19501})
    assert run(secondary).result["changed"]
    assert secondary.commits == [{("orders", 1): 1}]


def test_a_group_with_members_is_refused_and_nothing_is_read_further_or_committed():
    secondary = Secondary(state=ConsumerGroupState.STABLE, members=2)
    refused = run(secondary)
    assert refused.failed and secondary.commits == [] and secondary.consumers == 0
    assert refused.result["msg"] == (
        "Cannot fail over group 'orders-service' on 10.1.0.11:9092: it has 2 active members on this cluster (state "
        "STABLE). Stop the group's consumers on the secondary first (their commits would overwrite the offsets set "
        "here), then run this again")
    assert refused.result["group_state"] == "STABLE" and refused.result["members"] == 2
    assert run(secondary, check_mode=True).failed  # check mode says so too


def test_a_group_unknown_to_the_secondary_fails_over():
    secondary = Secondary(state=ConsumerGroupState.DEAD)
    assert run(secondary).result["group_state"] == "DEAD" and secondary.commits


def test_brokers_answering_group_id_not_found_take_the_group_as_dead():
    secondary = Secondary()
    secondary.describe_errors = [KafkaError.GROUP_ID_NOT_FOUND]
    assert run(secondary).result["group_state"] == "DEAD"


def test_a_moving_coordinator_is_asked_again_within_the_timeout():
    secondary = Secondary()
    secondary.describe_errors = [KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS]
    assert run(secondary).result["changed"] and not secondary.describe_errors


def test_a_moving_partition_leader_is_asked_again_within_the_timeout():
    """The ends read while a leader moves (a rolling restart of the secondary): librdkafka hands NOT_LEADER and kin
    of a ListOffsets to the caller (src/rdkafka_request.c, rd_kafka_handle_ListOffsets)."""
    secondary = Secondary()
    moving = [KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.UNKNOWN_LEADER_EPOCH, KafkaError.OFFSET_NOT_AVAILABLE]

    def get_watermark_offsets(tp, timeout, cached):
        if moving:
            raise KafkaException(KafkaError(moving.pop(0)))
        return (0, 40000)

    secondary.get_watermark_offsets = get_watermark_offsets
    with mock.patch.object(groups_utils.time, "sleep", lambda s: None):
        assert run(secondary).result["changed"] and not moving


def test_a_coordinator_that_never_settles_fails_after_the_timeout():
    secondary = Secondary()
    secondary.describe_errors = [KafkaError.NOT_COORDINATOR] * 1000
    clock = iter(range(0, 100000, 10))
    with mock.patch.object(groups_utils.time, "monotonic", lambda: next(clock)):
        failed = run(secondary, timeout=30)
    assert failed.failed and secondary.commits == []
    assert failed.result["msg"].startswith("Timed out after 30s waiting to describe group 'orders-service' (last "
                                           "state: Broker: Not coordinator)")


def test_a_topic_missing_on_the_secondary_is_refused():
    secondary = Secondary(topics={"clicks": 2})
    refused = run(secondary)
    assert refused.failed and secondary.commits == []
    assert "the secondary (10.1.0.11:9092) has no topic 'orders' (offsets of orders:0, orders:1)" in \
        refused.result["msg"]


def test_a_partition_the_broker_refuses_is_named():
    secondary = Secondary()
    secondary.commit_errors = {("orders", 0): KafkaError.UNKNOWN_TOPIC_OR_PART}
    failed = run(secondary)
    assert failed.failed
    assert failed.result["msg"].startswith("Cannot commit the offsets of group 'orders-service' for orders:0: "
                                           "UNKNOWN_TOPIC_OR_PART (Broker: Unknown topic or partition). Committed: ")
    assert failed.result["committed"] == ["orders:1"] and failed.result["failed"] == ["orders:0"]


class JoinsAtTheCommit(Secondary):
    """A consumer of the group joins on the secondary between the module's check and its commit."""

    def alter_consumer_group_offsets(self, request, request_timeout):
        self.state, self.members = ConsumerGroupState.STABLE, 1
        self.commit_errors = {("orders", 0): KafkaError.UNKNOWN_MEMBER_ID}
        return super().alter_consumer_group_offsets(request, request_timeout)


def test_a_commit_refused_because_a_consumer_joined_names_it():
    secondary = JoinsAtTheCommit()
    failed = run(secondary)
    assert failed.failed
    assert failed.result["msg"].startswith("Cannot commit the offsets of group 'orders-service' for orders:0: "
                                           "UNKNOWN_MEMBER_ID (Broker: Unknown member). A consumer of the group joined")
    assert failed.result["committed"] == ["orders:1"] and failed.result["failed"] == ["orders:0"]


def test_a_commit_refused_with_unknown_member_id_by_a_dead_group_without_members_is_sent_again():
    """Kafka 2.1's GroupCoordinator.doCommitOffsets (apache/kafka 2.1) answers UNKNOWN_MEMBER_ID for a group in Dead
    state (being removed from the coordinator's cache); the group, read again, has no members."""
    secondary = Secondary(state=ConsumerGroupState.DEAD)
    secondary.commit_errors = {("orders", 0): KafkaError.UNKNOWN_MEMBER_ID}
    assert run(secondary).result["changed"]
    assert secondary.commits == [{("orders", 0): 19501, ("orders", 1): 1}] * 2
    assert secondary.offsets == {("orders", 0): 19501, ("orders", 1): 1}


def test_a_commit_refused_while_the_coordinator_moves_is_sent_again():
    secondary = Secondary()
    secondary.commit_errors = {("orders", 0): KafkaError.NOT_COORDINATOR}
    assert run(secondary).result["changed"]
    assert secondary.commits == [{("orders", 0): 19501, ("orders", 1): 1}] * 2
    assert secondary.offsets == {("orders", 0): 19501, ("orders", 1): 1}


def test_allow_incomplete_sets_the_others_and_warns():
    rows = TRANSLATED + [{"topic": "orders", "partition": 2, "source_offset": 5, "target_offset": None,
                          "status": "unmapped", "reread_at_most": 0, "reason": "no offset map for this partition"}]
    secondary = Secondary()
    refused = run(secondary, offsets=rows)
    assert refused.failed and "no safe offset on the secondary for orders:2" in refused.result["msg"]
    assert secondary.commits == []
    done_ = run(secondary, offsets=rows, allow_incomplete=True)
    assert done_.result["changed"] and [s["partition"] for s in done_.result["not_set"]] == [2]
    assert secondary.commits == [{("orders", 0): 19501, ("orders", 1): 1}]
    assert any("no safe offset for orders:2 (allow_incomplete)" in w for w in done_.result["warnings"])


def test_a_group_ahead_on_the_secondary_is_refused_and_committed_with_allow_rewind():
    secondary = Secondary(committed={("orders", 0): 19700, ("orders", 1): 1})
    refused = run(secondary)
    assert refused.failed and secondary.commits == [] and refused.result["rewind"] == ["orders:0"]
    assert "ahead of the one to set for orders:0 (19700 -> 19501)" in refused.result["msg"]
    assert run(secondary, check_mode=True).failed
    assert run(secondary, allow_rewind=True).result["changed"]
    assert secondary.commits == [{("orders", 0): 19501}]


def test_an_offset_below_the_log_start_commits_the_log_start():
    secondary = Secondary()
    secondary.get_watermark_offsets = lambda tp, timeout, cached: (5000, 40000)
    result = run(secondary).result
    assert secondary.commits == [{("orders", 0): 19501, ("orders", 1): 5000}]
    assert result["partitions"][1] == {"topic": "orders", "partition": 1, "before": None, "after": 5000,
                                       "lag": 35000, "status": "exact", "source_offset": 0, "clamped_from": 1}
    assert any("offset 1 of orders:1 is below the log start offset 5000" in w for w in result["warnings"])


def test_allow_incomplete_with_every_partition_unmapped_fails():
    rows = [{"topic": "orders", "partition": 2, "source_offset": 5, "target_offset": None, "status": "unmapped",
             "reread_at_most": 0, "reason": "no offset map for this partition"}]
    secondary = Secondary()
    failed = run(secondary, offsets=rows, allow_incomplete=True)
    assert failed.failed and secondary.commits == [] and secondary.consumers == 0
    assert "no partition had a safe offset on the secondary (orders:2: no offset map" in failed.result["msg"]


@pytest.mark.parametrize("args,message", [
    ({"offsets": ["orders:0=5"]}, "offsets"),
    ({"offsets": [{"topic": "orders", "partition": 0, "offset": 5, "reson": "typo"}]}, "reson"),
    ({"offsets": [{"topic": "orders", "partition": 0}]}, "one of the following is required: offset, target_offset"),
    ({"offsets": [{"topic": "orders", "partition": 0, "offset": 1, "target_offset": 1}]},
     "parameters are mutually exclusive: offset|target_offset"),
    ({"offsets": [{"topic": "orders", "partition": "zero", "offset": 1}]}, "partition"),
    ({"offsets": [{"topic": "orders", "partition": 0, "target_offset": 1, "status": "maybe"}]},
     "value of status must be one of: exact, inexact, unmapped"),
    ({"offsets": [{"topic": "orders", "partition": 0, "offset": -5}]},
     "Cannot set the offsets of group 'orders-service': offsets[0] (orders:0): offset must be a whole number >= 0, "
     "not -5; nothing was changed"),
    ({"group": LEFT_OUT}, "missing required arguments: group"),
    ({"group": ""}, "group is empty"),
    ({"timeout": 0}, "timeout must be a number of seconds above 0"),
])
def test_wrong_arguments_fail_naming_what_is_wrong_before_anything_is_read(args, message):
    secondary = Secondary()
    failed = run(secondary, **args)
    assert failed.failed and message in failed.result["msg"], failed.result["msg"]
    assert secondary.commits == [] and secondary.consumers == 0


def test_the_sasl_password_is_never_in_a_message():
    failed = run(Secondary(state=ConsumerGroupState.STABLE, members=1), security_protocol="SASL_SSL",
                 sasl_mechanism="SCRAM-SHA-512", sasl_username="u", sasl_password="never-shown")
    assert failed.failed and "never-shown" not in str(failed.result)
