"""A leadership in motion is asked again, bounded (leaders.py); what is not one is raised at once. Kafka's own admin
client does the same with every retriable ListOffsets error (apache/kafka 3.9
clients/src/main/java/org/apache/kafka/clients/admin/internals/ListOffsetsHandler.java, handleResponse)."""
from __future__ import annotations

from concurrent.futures import Future

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from kafka_mirror import leaders, transactions
from kafka_mirror.errors import MirrorError
from kafka_mirror.translate import watermarks


class Clock:
    """time.monotonic and time.sleep of leaders.py: a sleep moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(leaders.time, "monotonic", c.monotonic)
    monkeypatch.setattr(leaders.time, "sleep", c.sleep)
    return c


class Watermarks:
    """A consumer whose get_watermark_offsets fails with `errors` in turn, then answers."""

    def __init__(self, *errors: int) -> None:
        self.errors, self.calls = list(errors), 0

    def get_watermark_offsets(self, tp, timeout):
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return (0, 42)


def test_every_leadership_in_motion_is_asked_again_and_logged_once(clock, caplog):
    moving = Watermarks(KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                        KafkaError.UNKNOWN_LEADER_EPOCH, KafkaError.FENCED_LEADER_EPOCH,
                        KafkaError.OFFSET_NOT_AVAILABLE, KafkaError._TRANSPORT, KafkaError._DESTROY_BROKER)
    with caplog.at_level("INFO", logger=leaders.log.name):
        assert watermarks(moving, TopicPartition("m", 3), 30) == (0, 42)
    assert moving.calls == 8 and clock.now == pytest.approx(7 * leaders.PAUSE_S)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith("the watermarks of m [3]: ") and "asked again for up to 30 s" in said[0]


def test_an_answer_at_once_logs_nothing(clock, caplog):
    with caplog.at_level("INFO", logger=leaders.log.name):
        assert watermarks(Watermarks(), TopicPartition("m", 0), 30) == (0, 42)
    assert caplog.records == []


def test_another_error_is_raised_at_once(clock):
    denied = Watermarks(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException) as raised:
        watermarks(denied, TopicPartition("m", 0), 30)
    assert raised.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED and denied.calls == 1


def test_a_leader_that_never_settles_is_given_up_at_the_deadline(clock):
    never = Watermarks(*[KafkaError.NOT_LEADER_FOR_PARTITION] * 1000)
    with pytest.raises(KafkaException) as raised:
        watermarks(never, TopicPartition("m", 0), 10)
    assert raised.value.args[0].code() == KafkaError.NOT_LEADER_FOR_PARTITION
    assert clock.now <= 10 and never.calls == 20  # every PAUSE_S while the deadline is ahead, then given up


class ListOffsetsAdmin:
    """The target's admin client for read_positions: its ListOffsets answers `errors` in turn, then `end`."""

    def __init__(self, *errors: int, end: int = 0) -> None:
        self.errors, self.end, self.calls, self.refreshed = list(errors), end, 0, []
        self.stale = False  # the cached leader epoch is behind the broker's until the metadata is read again

    def __call__(self, conf: dict) -> ListOffsetsAdmin:
        return self

    def list_topics(self, topic=None, timeout=-1):
        assert topic is None, "a named topic's metadata request may create it (allow.auto.create.topics)"
        self.refreshed.append(timeout)
        self.stale = False

    def list_offsets(self, request, isolation_level=None, request_timeout=None):
        self.calls += 1
        answer: Future = Future()
        if self.stale:  # librdkafka asks with the cached epoch again (rd_kafka_admin_result_err_refresh)
            answer.set_exception(KafkaException(KafkaError(KafkaError.FENCED_LEADER_EPOCH)))
        elif self.errors:
            answer.set_exception(KafkaException(KafkaError(self.errors.pop(0))))
        else:
            answer.set_result(type("Info", (), {"offset": self.end})())
        return {tp: answer for tp in request}


def test_the_exactly_once_resume_reads_its_positions_through_a_leader_move(clock, monkeypatch):
    """read_positions, at every assignment with --exactly-once: the positions topic's end asked again while its
    leader moves (UNKNOWN_LEADER_EPOCH as the CI run saw it), where it stopped the stream before."""
    admin = ListOffsetsAdmin(KafkaError.UNKNOWN_LEADER_EPOCH, KafkaError.NOT_LEADER_FOR_PARTITION)
    monkeypatch.setattr(transactions, "AdminClient", admin)
    assert transactions.read_positions({}, "positions", "src", "g", 90) == {}  # an empty topic: nothing stored
    assert admin.calls == 3 and len(admin.refreshed) == 2  # the metadata read again before each new ask only


def test_a_stale_leader_epoch_is_left_behind_by_reading_the_metadata_again(clock, monkeypatch):
    """FENCED_LEADER_EPOCH for 30 s on the lab: librdkafka asked with its cached epoch each time. The metadata read
    again before the next ask, within what is left of the bound."""
    admin = ListOffsetsAdmin(end=0)
    admin.stale = True
    monkeypatch.setattr(transactions, "AdminClient", admin)
    assert transactions.read_positions({}, "positions", "src", "g", 90) == {}
    assert admin.calls == 2 and len(admin.refreshed) == 1 and 0 < admin.refreshed[0] <= leaders.REFRESH_S


def test_a_refresh_that_fails_is_ignored_and_the_ask_says_what_is_wrong(clock):
    asks, refreshes = [], []

    def call(left: float) -> int:
        asks.append(left)
        if len(asks) < 3:
            raise KafkaException(KafkaError(KafkaError.FENCED_LEADER_EPOCH))
        return 7

    def refresh(left: float) -> None:
        refreshes.append(left)
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    assert leaders.asked_again(call, 30, "x", refresh) == 7
    assert len(asks) == 3 and len(refreshes) == 2 and all(0 < t <= leaders.REFRESH_S for t in refreshes)
    denied = []

    def refused(left: float) -> int:
        denied.append(left)
        raise KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))

    with pytest.raises(KafkaException) as raised:  # the ask's own error, never the refresh's
        leaders.asked_again(refused, 30, "x", refresh)
    assert raised.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED and len(denied) == 1


def test_a_missing_positions_topic_is_named_after_the_bound(clock, monkeypatch):
    admin = ListOffsetsAdmin(*[KafkaError.UNKNOWN_TOPIC_OR_PART] * 1000)
    monkeypatch.setattr(transactions, "AdminClient", admin)
    with pytest.raises(MirrorError, match="the positions topic positions does not exist on the target"):
        transactions.read_positions({}, "positions", "src", "g", 90)
    # asked until the bound (a topic just created is not known to its leader at once), and not past it
    assert transactions.END_TIMEOUT_S - leaders.PAUSE_S <= clock.now <= transactions.END_TIMEOUT_S and admin.calls > 2


def test_an_unanswered_read_of_the_positions_topic_is_a_timeout_not_a_crash(clock, monkeypatch):
    """The future not answered within its wait (concurrent.futures.TimeoutError, not a KafkaException): asked again
    as librdkafka's own _TIMED_OUT would be, then named, never an exception the assignment callback does not expect."""
    from concurrent.futures import TimeoutError as FutureTimeout

    class Unanswered:
        def result(self, timeout=None):
            clock.now += timeout
            raise FutureTimeout()

    class Admin(ListOffsetsAdmin):
        def list_offsets(self, request, isolation_level=None, request_timeout=None):
            self.calls += 1
            return {tp: Unanswered() for tp in request}

    admin = Admin()
    monkeypatch.setattr(transactions, "AdminClient", admin)
    with pytest.raises(MirrorError, match="reading the end of the positions topic positions: .*[Tt]imed out"):
        transactions.read_positions({}, "positions", "src", "g", 90)
    assert clock.now <= transactions.END_TIMEOUT_S + 0.1


def test_a_refused_read_of_the_positions_topic_stops_at_once(clock, monkeypatch):
    admin = ListOffsetsAdmin(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    monkeypatch.setattr(transactions, "AdminClient", admin)
    with pytest.raises(MirrorError, match="reading the end of the positions topic positions"):
        transactions.read_positions({}, "positions", "src", "g", 90)
    assert admin.calls == 1
