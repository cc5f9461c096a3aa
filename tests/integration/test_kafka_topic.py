"""kafka_topic through ansible-core against the lab's real brokers."""
from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

from .playbook import module_run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bootstrap(reachable):
    return reachable.primary.bootstrap


def topic_run(bootstrap: str, args: dict, check: bool = False) -> dict:
    return module_run("kafka_topic", args, {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}, check=check, diff=True)


def settles_to(bootstrap: str, name: str, expected: tuple, timeout: float = 30) -> bool:
    """Each broker learns a change on its own schedule: poll (bounded) until the cluster reports `expected`."""
    deadline = time.monotonic() + timeout
    while describe(bootstrap, name) != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def describe(bootstrap: str, name: str) -> tuple[int, int, dict]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(topic=name, timeout=30).topics[name]
    if md.error is not None:
        return 0, 0, {}
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    try:
        entries = admin.describe_configs([resource])[resource].result(30)
    except KafkaException as exc:  # a deletion spreading: metadata still lists it, configs are gone
        if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise
        return 0, 0, {}
    overrides = {k: e.value for k, e in entries.items() if e.source == 1}
    return len(md.partitions), len(md.partitions[0].replicas), overrides


def test_check_create_grow_reconfigure_rerun(bootstrap):
    name = f"topic-{uuid.uuid4().hex[:8]}"
    args = {"name": name, "partitions": 8, "replication_factor": 2, "config": {"retention.ms": 3600000}}
    checked = topic_run(bootstrap, args, check=True)
    assert checked["changed"] and "+partitions=8" in checked["diff_text"]
    assert describe(bootstrap, name) == (0, 0, {})  # validate_only: nothing created
    created = topic_run(bootstrap, args)
    assert created["changed"] and (created["partitions"], created["replication_factor"]) == (8, 2)
    assert settles_to(bootstrap, name, (8, 2, {"retention.ms": "3600000"}))
    assert not topic_run(bootstrap, args)["changed"]
    grown = topic_run(bootstrap, {**args, "partitions": 12, "config": {"retention.ms": 7200000}})
    assert grown["changed"] and "-partitions=8" in grown["diff_text"] and "+partitions=12" in grown["diff_text"]
    assert settles_to(bootstrap, name, (12, 2, {"retention.ms": "7200000"}))
    purged = topic_run(bootstrap, {"name": name, "config": {}, "purge": True})
    assert purged["changed"] and settles_to(bootstrap, name, (12, 2, {}))
    assert not topic_run(bootstrap, {"name": name, "config": {}, "purge": True})["changed"]
    assert topic_run(bootstrap, {"name": name, "state": "absent"})["changed"]
    assert settles_to(bootstrap, name, (0, 0, {}))


def test_bad_requests_fail_clearly(bootstrap):
    name = f"topic-{uuid.uuid4().hex[:8]}"
    topic_run(bootstrap, {"name": name, "partitions": 4, "replication_factor": 2})
    decrease = topic_run(bootstrap, {"name": name, "partitions": 2})
    assert decrease["failed"] and "Cannot decrease the partitions of topic" in decrease["msg"]
    rf = topic_run(bootstrap, {"name": name, "replication_factor": 3})
    assert rf["failed"] and "Cannot change the replication factor" in rf["msg"]
    internal = topic_run(bootstrap, {"name": "__consumer_offsets", "state": "absent"})
    assert internal["failed"] and "internal to Kafka" in internal["msg"]
    unknown = topic_run(bootstrap, {"name": name, "config": {"no.such.config": "1"}}, check=True)
    assert unknown["failed"] and unknown["msg"].startswith(f"Cannot reconfigure topic '{name}'")
    assert "no.such.config" in unknown["msg"]
    for result in (decrease, rf, internal, unknown):
        assert "Traceback" not in str(result)
    assert describe(bootstrap, name)[0] == 4  # nothing was changed by the refused requests


def test_broker_default_replication_factor_and_removing_one_override_on_every_release(bootstrap, lab):
    """Kafka before 2.4 refuses replication factor -1 (CreateTopics v4, KIP-464) and before 2.3 has no
    IncrementalAlterConfigs (KIP-339): kafka_topic sends the broker's default.replication.factor, and the whole set
    of overrides through AlterConfigs. `make test-releases` runs this on Kafka 2.1.1 (clients/src/main/resources/
    common/message/CreateTopicsRequest.json and IncrementalAlterConfigsRequest.json in apache/kafka trunk give
    the versions)."""
    name = f"topic-{uuid.uuid4().hex[:8]}"
    expected_rf = min(3, lab.config.brokers)  # the lab's default.replication.factor
    args = {"name": name, "partitions": 3, "config": {"retention.ms": 3600000, "cleanup.policy": "delete"}}
    assert topic_run(bootstrap, args, check=True)["changed"] and describe(bootstrap, name) == (0, 0, {})
    created = topic_run(bootstrap, args)
    assert created["changed"], created
    assert settles_to(bootstrap, name, (3, expected_rf, {"retention.ms": "3600000", "cleanup.policy": "delete"}))
    dropped = {"name": name, "config": {"retention.ms": 3600000, "cleanup.policy": None}}
    checked = topic_run(bootstrap, dropped, check=True)
    assert checked["changed"] and "-cleanup.policy=delete" in checked["diff_text"], checked
    assert describe(bootstrap, name)[2] == {"retention.ms": "3600000", "cleanup.policy": "delete"}
    assert topic_run(bootstrap, dropped)["changed"]
    assert settles_to(bootstrap, name, (3, expected_rf, {"retention.ms": "3600000"}))
    assert not topic_run(bootstrap, dropped)["changed"]
