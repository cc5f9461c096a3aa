"""kafka_mirror_check reads the secondary's ends before and after its canary: a partition whose leader moves (a
rolling restart of the secondary) is asked again within the request timeout, not a failed check. librdkafka hands
such ListOffsets answers to the caller (src/rdkafka_request.c, rd_kafka_handle_ListOffsets); each is a
RetriableException in apache/kafka 3.9 (clients/src/main/java/org/apache/kafka/common/errors/)."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
from confluent_kafka import KafkaError, KafkaException

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils import _kafka_check as check


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, s: float) -> None:
        self.now += s


class Reader:
    """The check's consumer on the secondary: partition 1's end fails with `errors` in turn, then answers; each
    failed ask takes `slow` of the timeout it was given (a request that waited for its answer) on `clock`."""

    def __init__(self, *errors: int, clock: Clock | None = None, slow: float = 0.0) -> None:
        self.errors, self.asked, self.clock, self.slow, self.given = list(errors), 0, clock, slow, []

    def list_topics(self, topic, timeout):
        return SimpleNamespace(topics={topic: SimpleNamespace(partitions=dict.fromkeys(range(3)), error=None)})

    def get_watermark_offsets(self, tp, timeout):
        self.asked += 1
        self.given.append(timeout)
        if tp.partition == 1 and self.errors:
            if self.clock is not None:
                self.clock.now += self.slow * timeout
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return (0, 100 + tp.partition)


@pytest.fixture
def clock():
    c = Clock()
    with mock.patch.object(check.time, "monotonic", lambda: c.now), mock.patch.object(check.time, "sleep", c.sleep):
        yield c


def test_every_leadership_in_motion_is_asked_again(clock):
    reader = Reader(KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError.UNKNOWN_LEADER_EPOCH, KafkaError.FENCED_LEADER_EPOCH, KafkaError.OFFSET_NOT_AVAILABLE)
    assert check.end_offsets(reader, "orders", 30) == {0: 100, 1: 101, 2: 102}
    assert reader.asked == 8 and clock.now == pytest.approx(5 * check.PAUSE_S)


def test_a_leader_that_never_settles_fails_within_the_timeout(clock):
    reader = Reader(*[KafkaError.NOT_LEADER_FOR_PARTITION] * 1000)
    with pytest.raises(KafkaException):
        check.end_offsets(reader, "orders", 10)
    assert 10 - check.PAUSE_S <= clock.now <= 10 and reader.asked > 2  # asked until the timeout, not past it


def test_slow_answers_share_one_timeout(clock):
    """Each ask is given what is left of the one timeout, not a fresh one: the check's own deadline stays its own."""
    reader = Reader(*[KafkaError.LEADER_NOT_AVAILABLE] * 1000, clock=clock, slow=0.5)
    with pytest.raises(KafkaException):
        check.end_offsets(reader, "orders", 30)
    asks = reader.given[1:]  # partition 1's, after partition 0 answered at once
    assert clock.now <= 30 and len(asks) > 2 and all(b < a for a, b in zip(asks, asks[1:]))


def test_a_topic_the_mirror_just_created_is_asked_again(clock):
    """UNKNOWN_TOPIC_OR_PART from a leader that has not applied the new topic yet (_wait_topic's case)."""
    reader = Reader(KafkaError.UNKNOWN_TOPIC_OR_PART)
    assert check.end_offsets(reader, "orders", 30) == {0: 100, 1: 101, 2: 102}


def test_another_error_is_not_asked_again(clock):
    reader = Reader(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException) as raised:
        check.end_offsets(reader, "orders", 30)
    assert raised.value.args[0].name() == "TOPIC_AUTHORIZATION_FAILED" and clock.now == 0


def test_a_failed_read_after_the_canary_keeps_the_canarys_verdict(clock):
    """The canary not seen within the deadline, and the ends not readable afterwards: the task still fails on the
    canary, saying the ends could not be read again (not a bare Kafka error, not a negative count)."""
    class Target(Reader):
        def __init__(self):
            super().__init__()
            self.reads = 0

        def get_watermark_offsets(self, tp, timeout):
            if self.reads >= 3:  # the second read: the secondary stops answering for this partition
                raise KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
            self.reads += 1
            return (0, 100 + tp.partition)

        def assign(self, partitions):
            pass

        def consume(self, n, timeout):
            clock.now += timeout
            return []

        def close(self):
            pass

    module = SimpleNamespace(check_mode=False, params={
        "topic": "orders", "deadline": 5, "request_timeout": 10, "bootstrap_servers": "10.0.0.1:9092",
        "target_bootstrap_servers": "10.0.0.2:9092", "target_security_protocol": None, "security_protocol": "PLAINTEXT"})
    sent = {"partition": 0, "offset": 7, "timestamp_ms": 0}
    with mock.patch("confluent_kafka.Consumer", lambda conf: Target()), \
            mock.patch.object(check, "_produce", lambda *a: sent), \
            mock.patch.object(check, "client_config", lambda p, prefix="": {"bootstrap.servers": "x"}):
        with pytest.raises(check.KafkaModuleError) as failed:
            check.run_mirror_check(module, None)
    assert "was not read on the secondary within 5s: the target topic's end offsets could not be read again " \
        "(Broker: Topic authorization failed)" in str(failed.value)
