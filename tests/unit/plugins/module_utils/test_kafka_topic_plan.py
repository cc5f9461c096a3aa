"""kafka_topic's plan: what changes, and the clear refusals (pure)."""
from __future__ import annotations

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import KafkaModuleError
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka_topics import TopicState, plan

EXISTING = TopicState(True, 8, 2, {"retention.ms": "86400000", "cleanup.policy": "delete"})


def test_create_with_partitions_rf_and_config():
    todo = plan("t", TopicState(False), "present", 8, 2, {"retention.ms": 3600000}, False)
    assert todo.create and todo.changed and todo.after == TopicState(True, 8, 2, {"retention.ms": "3600000"})
    assert todo.diff("t")["before"] == "" and "partitions=8" in todo.diff("t")["after"]


def test_create_needs_partitions():
    with pytest.raises(KafkaModuleError, match="give partitions"):
        plan("t", TopicState(False), "present", None, None, {}, False)


def test_unchanged_topic_is_no_change():
    todo = plan("t", EXISTING, "present", 8, 2, {"retention.ms": "86400000"}, False)
    assert not todo.changed


def test_grow_and_reconfigure_and_purge():
    todo = plan("t", EXISTING, "present", 12, None, {"retention.ms": 3600000}, True)
    assert todo.grow_to == 12 and todo.set_config == {"retention.ms": "3600000"}
    assert todo.delete_config == ("cleanup.policy",)
    assert todo.after.config == {"retention.ms": "3600000"}
    removed = plan("t", EXISTING, "present", None, None, {"cleanup.policy": None}, False)
    assert removed.delete_config == ("cleanup.policy",) and not removed.set_config


def test_decrease_and_rf_change_and_internal_topics_are_refused_clearly():
    with pytest.raises(KafkaModuleError, match="Cannot decrease the partitions of topic 't' from 8 to 4"):
        plan("t", EXISTING, "present", 4, None, {}, False)
    with pytest.raises(KafkaModuleError, match="Cannot change the replication factor of topic 't' from 2 to 3"):
        plan("t", EXISTING, "present", 8, 3, {}, False)
    with pytest.raises(KafkaModuleError, match="internal to Kafka"):
        plan("__consumer_offsets", EXISTING, "absent", None, None, {}, False)


def test_absent():
    assert plan("t", EXISTING, "absent", None, None, {}, False).delete
    assert not plan("t", TopicState(False), "absent", None, None, {}, False).changed
