# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kafka_mirror_check's work: a canary produced on the source must be read on the target within a deadline."""

from __future__ import annotations

import time
import uuid

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import (
    LEADER_MOVING, KafkaModuleError, client_config)

PAUSE_S = 0.5
# Also asked again here: a topic the mirror has just created, not yet known to the leader asked (librdkafka takes it
# as permanent, src/rdkafka_request.c, rd_kafka_handle_ListOffsets).
ENDS_MOVING = LEADER_MOVING + ("UNKNOWN_TOPIC_OR_PART",)


def end_offsets(consumer, topic, timeout):
    """Each partition's end on this cluster (None: no such topic yet), all within `timeout`: a partition whose leader
    moves (a rolling restart of the secondary) is asked again until then."""
    from confluent_kafka import KafkaException, TopicPartition

    deadline = time.monotonic() + timeout
    md = consumer.list_topics(topic=topic, timeout=timeout).topics.get(topic)
    if md is None or md.error is not None:
        return None
    ends = {}
    for p in md.partitions:
        while p not in ends:
            try:
                left = max(0.1, deadline - time.monotonic())
                ends[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=left)[1]
            except KafkaException as exc:
                if exc.args[0].name() not in ENDS_MOVING or time.monotonic() + PAUSE_S >= deadline:
                    raise
                time.sleep(PAUSE_S)
    return ends


def target_config(p):
    """The secondary's own settings (target_*) when target_security_protocol is given, else the primary's."""
    if p.get("target_security_protocol"):
        return client_config(p, "target_")
    return {**client_config(p), "bootstrap.servers": p["target_bootstrap_servers"]}


def run_mirror_check(module, admin):
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    p = module.params
    topic, deadline_s = p["topic"], p["deadline"]
    if module.check_mode:
        return {"changed": False, "skipped_reason": "check mode: no canary produced"}
    source = client_config(p)
    target = target_config(p)
    reader = Consumer({**target, "group.id": "ambari_kafka.mirroring-check", "enable.auto.commit": False})
    try:
        before = end_offsets(reader, topic, p["request_timeout"])
        start = time.monotonic()  # the canary's own deadline: the read before it may have waited for a leader
        canary = "ambari_kafka.mirroring canary %s" % uuid.uuid4()
        sent = _produce(source, topic, canary, p["request_timeout"])
        if before is None:
            before = _wait_topic(reader, topic, start + deadline_s, p["request_timeout"])
        reader.assign([TopicPartition(topic, part, off) for part, off in before.items()])
        seen = 0
        while time.monotonic() - start < deadline_s:
            for m in reader.consume(500, 0.5):
                if m.error() is None:
                    seen += 1
                    if m.value() == canary.encode():
                        latency = (time.time() * 1000) - sent["timestamp_ms"]
                        return {"changed": False, "canary": canary, "latency_ms": int(latency),
                                "source_partition": sent["partition"], "source_offset": sent["offset"],
                                "target_partition": m.partition(), "target_offset": m.offset()}
        try:
            after = end_offsets(reader, topic, p["request_timeout"])
        except KafkaException as exc:  # the canary's verdict stands; only how far the target moved is unknown
            after, why = None, exc.args[0].str()
        else:
            why = "the topic's metadata did not answer"
        if after is None:
            seen_moving = "the target topic's end offsets could not be read again (%s)" % why
        else:
            moved = sum(after.get(k, 0) - v for k, v in before.items())
            seen_moving = ("the target topic's end offsets did not move (the mirror is not copying)" if moved == 0
                           else "%d records arrived on the target, not the canary (the mirror is behind)" % moved)
        raise KafkaModuleError(
            "The canary produced to %s (partition %s, offset %s) on the primary was not read on the secondary within "
            "%ss: %s. Check the mirror worker's /health and its log (journalctl -u kafka-mirror)."
            % (topic, sent["partition"], sent["offset"], deadline_s, seen_moving),
            canary=canary)
    finally:
        reader.close()


def _produce(conf, topic, canary, timeout):
    from confluent_kafka import Producer

    delivered = {}

    def report(err, msg):
        delivered["err"], delivered["msg"] = err, msg

    producer = Producer({**conf, "enable.idempotence": True})
    producer.produce(topic, canary.encode(), on_delivery=report)
    producer.flush(timeout)
    if delivered.get("err") is not None or "msg" not in delivered:
        raise KafkaModuleError("Cannot produce the canary to %s on the primary: %s"
                               % (topic, delivered.get("err") or "no acknowledgement within %ss" % timeout))
    msg = delivered["msg"]
    return {"partition": msg.partition(), "offset": msg.offset(), "timestamp_ms": msg.timestamp()[1]}


def _wait_topic(reader, topic, deadline, timeout):
    while time.monotonic() < deadline:
        offsets = end_offsets(reader, topic, timeout)
        if offsets is not None:
            return {k: 0 for k in offsets}
        time.sleep(0.5)
    raise KafkaModuleError("Topic %s does not exist on the secondary: the mirror has not created it (is it running, "
                           "and allowed to create topics?) and it was not pre-created" % topic)
