"""kafka_topic's answers to brokers older than Kafka 2.4 / 2.3, as librdkafka reports them (_UNSUPPORTED_FEATURE,
seen from kafka_2.12-2.1.1 on the lab). What the brokers then do is pinned on the real thing:
tests/integration/test_kafka_topic.py under `make test-releases` (Kafka 2.1.1)."""
from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import KafkaModuleError
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka_topics import TopicState, apply, plan


def done(value=None, error=None):
    future = Future()
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(KafkaException(KafkaError(error, "refused")))
    return future


class OldBrokers:
    """An AdminClient of brokers without CreateTopics v4 and IncrementalAlterConfigs: records what was sent."""

    def __init__(self, default_rf="3", brokers=(1002, 1001)):
        self.sent = []
        self.default_rf = default_rf
        self.brokers = brokers

    def create_topics(self, topics, validate_only, operation_timeout):
        self.sent.append(("create", topics[0].replication_factor, validate_only))
        error = KafkaError._UNSUPPORTED_FEATURE if topics[0].replication_factor == -1 else None
        return {topics[0].topic: done(error=error)}

    def incremental_alter_configs(self, resources, validate_only, request_timeout):
        self.sent.append(("incremental", None, validate_only))
        return {resources[0]: done(error=KafkaError._UNSUPPORTED_FEATURE)}

    def alter_configs(self, resources, validate_only, request_timeout):
        self.sent.append(("alter", dict(resources[0].set_config_dict), validate_only))
        return {resources[0]: done()}

    def list_topics(self, timeout):
        return SimpleNamespace(brokers={b: None for b in self.brokers})

    def describe_configs(self, resources, request_timeout):
        self.sent.append(("describe", resources[0].name, None))
        entries = {} if self.default_rf is None else {
            "default.replication.factor": SimpleNamespace(value=self.default_rf)}
        return {resources[0]: done(entries)}


@pytest.mark.parametrize("check_mode", [False, True])
def test_create_without_replication_factor_sends_the_brokers_default(check_mode):
    admin = OldBrokers()
    apply(admin, "t", plan("t", TopicState(False), "present", 8, None, {}, False), check_mode, 5)
    assert admin.sent == [("create", -1, check_mode), ("describe", "1001", None), ("create", 3, check_mode)]


def test_create_with_replication_factor_is_sent_as_given():
    admin = OldBrokers()
    apply(admin, "t", plan("t", TopicState(False), "present", 8, 2, {}, False), False, 5)
    assert admin.sent == [("create", 2, False)]


@pytest.mark.parametrize("default_rf,brokers,why", [
    (None, (1001,), "broker 1001 does not report it"),
    ("3", (), "the metadata lists no broker"),
])
def test_an_unreadable_default_is_a_message_naming_the_option(default_rf, brokers, why):
    with pytest.raises(KafkaModuleError, match=f"older than Kafka 2.4.*{why}; set replication_factor"):
        apply(OldBrokers(default_rf, brokers), "t", plan("t", TopicState(False), "present", 8, None, {}, False),
              False, 5)


def test_reconfigure_sends_the_whole_override_set_through_alter_configs():
    current = TopicState(True, 8, 2, {"retention.ms": "1", "cleanup.policy": "delete", "segment.ms": "5"})
    todo = plan("t", current, "present", None, None, {"retention.ms": 2, "segment.ms": None}, False)
    admin = OldBrokers()
    apply(admin, "t", todo, False, 5)
    assert admin.sent == [("incremental", None, False),
                          ("alter", {"retention.ms": "2", "cleanup.policy": "delete"}, False)]


def test_other_errors_are_not_taken_for_an_old_broker():
    class Denied(OldBrokers):
        def create_topics(self, topics, validate_only, operation_timeout):
            self.sent.append(("create", topics[0].replication_factor, validate_only))
            return {topics[0].topic: done(error=KafkaError.TOPIC_AUTHORIZATION_FAILED)}
    admin = Denied()
    with pytest.raises(KafkaModuleError, match="Cannot create topic 't'"):
        apply(admin, "t", plan("t", TopicState(False), "present", 8, None, {}, False), False, 5)
    assert admin.sent == [("create", -1, False)]
