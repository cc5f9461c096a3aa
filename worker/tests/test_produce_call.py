"""The stream hands records to confluent-kafka's produce() positionally (keyword parsing costs about 500 ns a
record, bench/loop_profile.py). This pins each field's place against the real client: a real Producer whose broker
never answers, its queue purged, so every record comes back in a delivery report. A purged record's report carries no
timestamp or headers; those two are shown intact on the lab's brokers, record by record, by
tests/integration/test_mirror.py::test_200k_records_arrive_complete_ordered_and_faithful_and_sigterm_commits.
Follows confluent-kafka-python master src/confluent_kafka/src/Producer.c, Producer_produce: kws topic, value, key,
partition, callback, on_delivery, timestamp, headers; a callback of None means the producer's on_delivery."""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from confluent_kafka import TIMESTAMP_CREATE_TIME, KafkaError, Message, Producer

from kafka_mirror import mirror as mirror_module
from kafka_mirror.config import MirrorConfig
from kafka_mirror.mirror import LARGE_RECORD, Stream
from kafka_mirror.selection import TopicSelection


class Quiet:
    def labels(self, *args):
        return self

    def inc(self, n: float = 1) -> None:
        pass

    observe = set = dec = inc

    def __getattr__(self, name: str):
        return self


class Handing:
    def __init__(self, batch: list[Message]) -> None:
        self.batches = [batch]

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        return self.batches.pop(0) if self.batches else []

    def resume(self, partitions) -> None:
        pass


def test_each_field_reaches_the_real_client_in_its_place(tmp_path: Path) -> None:
    s = Stream(MirrorConfig(consumer={"group.id": "g"}, producer={}, topics=TopicSelection("a", None)), 0, tmp_path)
    s.metrics, s.limits = Quiet(), {"a": 4}
    reported: list[Message] = []
    s.producer = Producer({"bootstrap.servers": "127.0.0.1:1", "log_level": 0,
                           "on_delivery": lambda err, msg: reported.append(msg)})
    small = Message(topic="a", partition=2, offset=7, key=b"key", value=b"value", headers=[("h", b"1")],
                    timestamp=(TIMESTAMP_CREATE_TIME, 1_700_000_000_123))
    large = Message(topic="a", partition=3, offset=9, key=None, value=b"x" * LARGE_RECORD,
                    timestamp=(TIMESTAMP_CREATE_TIME, 1_700_000_000_456))
    s.consumer = Handing([small, large])
    s._pass()
    s.producer.purge()
    s.producer.flush(5)

    # The small record: the producer's own callback, its fields in their places.
    assert [(m.topic(), m.partition(), m.key(), m.value()) for m in reported] == [("a", 2, b"key", b"value")]
    assert reported[0].error().code() == KafkaError._PURGE_QUEUE
    # The large record: its own callback (the fifth argument), which names its source offset in the report.
    assert [(r.topic, r.partition, r.offset, r.error, r.size) for r in s.reports] == [
        ("a", 3, 9, "_PURGE_QUEUE", LARGE_RECORD)]


def test_the_stream_s_own_producer_reports_failures_only_unless_the_offset_map_is_on(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    """delivery.report.only.error (librdkafka CONFIGURATION.md): the stream's producer, as _new_producer makes it,
    still reports every failed record (here: purged) through _delivered; success reports stay off unless the offset
    map needs each record's target offset."""
    config = MirrorConfig(consumer={"group.id": "g"}, producer={"bootstrap.servers": "127.0.0.1:1", "log_level": 0},
                          topics=TopicSelection("a", None))
    s = Stream(config, 0, tmp_path)
    s.metrics, s.limits = Quiet(), {"a": 4}
    s.producer = s._new_producer(logging.getLogger("test"))
    s.consumer = Handing([Message(topic="a", partition=p, offset=o, key=None, value=b"v", timestamp=(1, 1))
                          for p in (0, 1) for o in range(3)])
    s._pass()
    s.producer.purge()
    s.producer.flush(5)
    assert sorted((r.partition, r.error) for r in s.reports) == [(0, "_PURGE_QUEUE")] * 3 + [(1, "_PURGE_QUEUE")] * 3

    made = []
    monkeypatch.setattr(mirror_module, "Producer", made.append)
    for offset_map in (False, True):
        Stream(replace(config, offset_map=offset_map), 0, tmp_path)._new_producer(logging.getLogger("test"))
    assert [(c["delivery.report.only.error"], c["on_delivery"].__name__) for c in made] == [
        (True, "_delivered"), (False, "_delivered_mapped")]
