"""Target topics on brokers older than Kafka 2.4 (no replication factor -1, KIP-464), as librdkafka reports them
(_UNSUPPORTED_FEATURE, seen from kafka_2.12-2.1.1 on the lab; the real run: `make test-releases`)."""
from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace

from confluent_kafka import KafkaError, KafkaException

from kafka_mirror.topics import TopicSync


def done(value=None, error=None):
    future = Future()
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(KafkaException(KafkaError(error, "refused")))
    return future


class OldTarget:
    def __init__(self, default_rf):
        self.default_rf = default_rf
        self.created = []

    def create_topics(self, topics, request_timeout):
        rf = topics[0].replication_factor
        self.created.append(rf)
        return {topics[0].topic: done(error=KafkaError._UNSUPPORTED_FEATURE if rf == -1 else None)}

    def list_topics(self, timeout):
        return SimpleNamespace(brokers={1001: None})

    def describe_configs(self, resources, request_timeout):
        entries = {"default.replication.factor": SimpleNamespace(value=self.default_rf)} if self.default_rf else {}
        return {resources[0]: done(entries)}


class Source:
    def describe_configs(self, resources, request_timeout):
        return {resources[0]: done({})}


def test_creation_on_an_old_target_uses_its_default_replication_factor_once():
    target = OldTarget("2")
    sync = TopicSync(Source(), target, producer=None, create=True, replication_factor=-1)
    assert sync._create({"a": 4, "b": 2}) == {"a": 4, "b": 2}
    assert target.created == [-1, 2, 2]  # learnt once, then sent for every topic


def test_an_old_target_without_a_readable_default_is_reported_not_created(caplog):
    target = OldTarget(None)
    sync = TopicSync(Source(), target, producer=None, create=True, replication_factor=-1)
    assert sync._create({"a": 4}) == {}
    assert "cannot create target topic a" in caplog.text
