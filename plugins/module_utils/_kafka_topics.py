# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kafka_topic's work: read the topic, plan with a pure function, apply (validate_only in check mode)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_changes import normalize
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import KafkaModuleError

INTERNAL_PREFIXES = ("__", "_confluent", "_schemas")
DYNAMIC_TOPIC_CONFIG = 1  # ConfigSource.DYNAMIC_TOPIC_CONFIG
UNSUPPORTED_FEATURE = "_UNSUPPORTED_FEATURE"  # librdkafka: the broker's API versions lack what the call needs


@dataclass(frozen=True)
class TopicState:
    exists: bool
    partitions: int = 0
    replication_factor: int = 0
    config: dict = field(default_factory=dict)  # topic overrides (dynamic topic configs)

    def as_dict(self):
        return {"exists": self.exists, "partitions": self.partitions, "replication_factor": self.replication_factor,
                "config": dict(sorted(self.config.items()))}


@dataclass(frozen=True)
class TopicPlan:
    before: TopicState
    after: TopicState
    create: bool = False
    delete: bool = False
    grow_to: int = 0
    set_config: dict = field(default_factory=dict)
    delete_config: tuple = ()

    @property
    def changed(self):
        return self.create or self.delete or bool(self.grow_to or self.set_config or self.delete_config)

    def diff(self, name):
        def text(state):
            if not state.exists:
                return ""
            lines = ["partitions=%d" % state.partitions, "replication_factor=%d" % state.replication_factor]
            return "\n".join(lines + ["%s=%s" % kv for kv in sorted(state.config.items())]) + "\n"
        return {"before_header": "topic %s" % name, "after_header": "topic %s" % name,
                "before": text(self.before), "after": text(self.after)}


def is_internal(name):
    return name.startswith(INTERNAL_PREFIXES)


def plan(name, current, state, partitions, replication_factor, config, purge):
    """Pure: the change that brings topic `name` from `current` to what was asked, or a KafkaModuleError."""
    if is_internal(name):
        raise KafkaModuleError("Cannot manage topic '%s': it is internal to Kafka (or to a Confluent component); "
                               "its partitions and settings belong to the brokers" % name)
    if state == "absent":
        return TopicPlan(current, TopicState(False), delete=current.exists)
    wanted = {k: normalize(v) for k, v in (config or {}).items()}
    removed = [k for k, v in wanted.items() if v is None]
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if not current.exists:
        if partitions is None:
            raise KafkaModuleError("Cannot create topic '%s': give partitions (the article uses 8)" % name)
        after = TopicState(True, partitions, replication_factor or 0, wanted)
        return TopicPlan(current, after, create=True, set_config=wanted)
    if partitions is not None and partitions < current.partitions:
        raise KafkaModuleError("Cannot decrease the partitions of topic '%s' from %d to %d: Kafka can only add "
                               "partitions. Create a new topic with %d partitions and move the data to it."
                               % (name, current.partitions, partitions, partitions))
    if replication_factor is not None and replication_factor != current.replication_factor:
        values = (name, current.replication_factor, replication_factor, replication_factor)
        raise KafkaModuleError("Cannot change the replication factor of topic '%s' from %d to %d: this module sets it "
                               "at creation only. Reassign the partitions with kafka-reassign-partitions.sh, then "
                               "set replication_factor: %d here." % values)
    set_config = {k: v for k, v in wanted.items() if current.config.get(k) != v}
    drop = [k for k in current.config if (purge and k not in wanted) or k in removed]
    after_config = {**{k: v for k, v in current.config.items() if k not in drop}, **wanted}
    grow = partitions if partitions is not None and partitions > current.partitions else 0
    after = TopicState(True, grow or current.partitions, current.replication_factor, after_config)
    return TopicPlan(current, after, grow_to=grow, set_config=set_config, delete_config=tuple(sorted(drop)))


def read_topic(admin, name, timeout, clock=time.monotonic, sleeper=time.sleep):
    """The topic as the cluster reports it; only UNKNOWN_TOPIC_OR_PART means it does not exist."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import ConfigResource

    deadline = clock() + timeout
    md = admin.list_topics(topic=name, timeout=timeout).topics.get(name)
    while md is not None and md.error is not None and md.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
        if clock() > deadline:  # e.g. LEADER_NOT_AVAILABLE that never clears
            raise KafkaModuleError("Cannot read topic '%s': %s" % (name, md.error.str()))
        sleeper(0.2)
        md = admin.list_topics(topic=name, timeout=timeout).topics.get(name)
    if md is None or md.error is not None:
        return TopicState(False)
    replicas = [len(p.replicas) for p in md.partitions.values()]
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    try:
        entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise
        # Metadata (from one broker) and configs (from another) disagree while a creation or deletion spreads:
        # the topic is not there for every broker yet; read_settled polls until the cluster agrees.
        return TopicState(False)
    config = {k: e.value for k, e in entries.items() if e.source == DYNAMIC_TOPIC_CONFIG}
    return TopicState(True, len(md.partitions), max(replicas) if replicas else 0, config)


def read_settled(admin, name, expected, timeout, clock=time.monotonic, sleeper=time.sleep):
    """The topic as the cluster reports it once its metadata shows the change (it lags behind the request)."""
    def settled(state):
        return state.exists == expected.exists and state.partitions >= expected.partitions and (
            not expected.exists or state.config == expected.config)

    deadline = clock() + timeout
    state = read_topic(admin, name, timeout)
    while not settled(state) and clock() < deadline:
        sleeper(0.2)
        state = read_topic(admin, name, timeout)
    return state


def apply(admin, name, todo, validate_only, timeout):
    """Carry out the plan; with validate_only the broker checks every step and changes nothing."""
    from confluent_kafka.admin import NewPartitions, NewTopic

    if todo.delete:
        if not validate_only:  # DeleteTopics has no validate-only mode
            _wait(admin.delete_topics([name], operation_timeout=timeout), name, "delete", timeout)
        return
    if todo.create:
        def create(replication_factor):
            topic = NewTopic(name, num_partitions=todo.after.partitions, replication_factor=replication_factor,
                             config=todo.set_config)
            _wait(admin.create_topics([topic], validate_only=validate_only, operation_timeout=timeout), name,
                  "create", timeout)
        if todo.after.replication_factor:
            create(todo.after.replication_factor)
            return
        try:
            create(-1)  # the broker's default.replication.factor (CreateTopics v4, KIP-464: Kafka 2.4)
        except KafkaModuleError as exc:
            if exc.details.get("kafka_error") != UNSUPPORTED_FEATURE:
                raise
            create(default_replication_factor(admin, timeout))  # older brokers: read it and send it
        return
    if todo.grow_to:
        _wait(admin.create_partitions([NewPartitions(name, todo.grow_to)], validate_only=validate_only,
                                      operation_timeout=timeout), name, "add partitions to", timeout)
    if todo.set_config or todo.delete_config:
        reconfigure(admin, name, todo, validate_only, timeout)


def reconfigure(admin, name, todo, validate_only, timeout):
    """IncrementalAlterConfigs (KIP-339: Kafka 2.3); older brokers only have AlterConfigs, which replaces the
    topic's whole set of overrides: it is sent the complete set the plan ends with."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in todo.set_config.items()]
    entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in todo.delete_config]
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
    try:
        _wait(admin.incremental_alter_configs([resource], validate_only=validate_only, request_timeout=timeout),
              name, "reconfigure", timeout)
    except KafkaModuleError as exc:
        if exc.details.get("kafka_error") != UNSUPPORTED_FEATURE:
            raise
        whole = ConfigResource(ConfigResource.Type.TOPIC, name, set_config=dict(todo.after.config))
        _wait(admin.alter_configs([whole], validate_only=validate_only, request_timeout=timeout), name,
              "reconfigure", timeout)


def default_replication_factor(admin, timeout):
    """A broker's default.replication.factor (what CreateTopics with -1 uses on brokers that have it)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource

    why = "set replication_factor"
    brokers = sorted(admin.list_topics(timeout=timeout).brokers)
    if brokers:
        resource = ConfigResource(ConfigResource.Type.BROKER, str(brokers[0]))
        try:
            entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
            entry = entries.get("default.replication.factor")
            if entry is not None and str(entry.value).isdigit():
                return int(entry.value)
            why = "broker %d does not report it; set replication_factor" % brokers[0]
        except KafkaException as exc:
            why = "%s; set replication_factor (or grant DESCRIBE_CONFIGS on the CLUSTER)" % exc.args[0].str()
    else:
        why = "the metadata lists no broker; set replication_factor"
    raise KafkaModuleError("The brokers are older than Kafka 2.4, so a new topic's replication factor must be sent, "
                           "and their default.replication.factor cannot be read: " + why,
                           kafka_error=UNSUPPORTED_FEATURE)


def _wait(futures, name, verb, timeout):
    from confluent_kafka import KafkaException

    for future in futures.values():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            raise KafkaModuleError("Cannot %s topic '%s': %s" % (verb, name, exc.args[0].str()),
                                   kafka_error=exc.args[0].name()) from None


def run_kafka_topic(module, admin):
    p = module.params
    timeout = p["request_timeout"]
    current = read_topic(admin, p["name"], timeout)
    todo = plan(p["name"], current, p["state"], p["partitions"], p["replication_factor"], p["config"], p["purge"])
    after = todo.after
    if todo.changed:
        apply(admin, p["name"], todo, module.check_mode, timeout)
        if not module.check_mode:
            after = read_settled(admin, p["name"], todo.after, timeout)
    result = {"changed": todo.changed, "topic": p["name"], **after.as_dict()}
    if module._diff:
        result["diff"] = todo.diff(p["name"])
    return result
