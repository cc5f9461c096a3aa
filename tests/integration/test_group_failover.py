"""kafka_group_failover against the lab's real clusters: a group of the primary, translated by kafka-mirror, failed over
to the secondary with the module run through ansible-core, resumes there with nothing skipped.

What the unit tests' stand-in clients cannot show is pinned here: the group's state and members as Kafka reports them,
the commit through AlterConsumerGroupOffsets, what a consumer of the group then reads, and that metadata is read
without creating a topic.
"""
from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from .coordinator import asked_again
from .playbook import module_run
from .test_offset_translation import (PARTITIONS, Mirror, clusters, commit, committed, create,  # noqa: F401 (fixture)
                                      produce_plain, read_from, translate, wait_caught_up, wait_synced,
                                      write_worker_yaml)

pytestmark = pytest.mark.integration
PER_PARTITION = 2_000
ALREADY_THERE = 5  # records per partition another writer left on the secondary: its offsets are not the primary's
STALE = 1  # what the group had committed on the secondary before (an earlier drill)
POSITIONS = {0: 0, 1: 37, 2: 1_234, 3: PER_PARTITION}  # the group on the primary: its first record, ..., its end


def produce_other(bootstrap: str, topic: str) -> None:
    """ALREADY_THERE records per partition from another writer, before the mirror's."""
    other = Producer({"bootstrap.servers": bootstrap})
    for p in range(PARTITIONS):
        for i in range(ALREADY_THERE):
            other.produce(topic, b"other:%d" % i, partition=p)
    assert other.flush(30) == 0


def on_both(clusters: tuple[str, str], prefix: str) -> tuple[str, str, str, str, str]:
    """A new topic on both clusters, with another writer's records first on the secondary; (source, target, topic,
    the mirror's group, the application's group)."""
    source, target = clusters
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    create(source, topic, partitions=PARTITIONS)
    create(target, topic, partitions=PARTITIONS)
    produce_other(target, topic)
    return source, target, topic, f"g-{topic}", f"app-{topic}"


def failover(target: str, group: str, offsets: list[dict], check: bool = False, **options) -> dict:
    """The module ad hoc on localhost, as a user's playbook runs it (--check --diff for check mode)."""
    args = {"bootstrap_servers": target, "group": group, "offsets": offsets, "timeout": 30, **options}
    return module_run("kafka_group_failover", args, {}, check=check, diff=True)


def group_state(bootstrap: str, group: str) -> tuple[str, int]:
    """The group's state and member count (DescribeGroups: not the admin OffsetFetch of librdkafka#5040)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    described = asked_again(
        lambda: admin.describe_consumer_groups([group], request_timeout=30)[group].result(timeout=30))
    return described.state.name, len(described.members or [])


def wait_empty(bootstrap: str, group: str, timeout: float = 60) -> None:
    """Until the group has no members (a closed consumer leaves at once; a crashed one after session.timeout.ms). The
    bound outlasts librdkafka's session.timeout.ms (45 s): CI once saw a closed member's leave not arrive, and the
    group stayed STABLE with it for the 30 s this waited then."""
    deadline = time.monotonic() + timeout
    while (state := group_state(bootstrap, group)) != ("EMPTY", 0):
        assert time.monotonic() < deadline, f"group {group} still {state} after {timeout}s"
        time.sleep(0.5)


def join(bootstrap: str, group: str, topic: str, timeout: float = 30) -> Consumer:
    """A consumer of the group, subscribed and polling until it holds partitions: an active member."""
    member = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    member.subscribe([topic])
    deadline = time.monotonic() + timeout
    while not member.assignment():
        assert time.monotonic() < deadline, f"no partition assigned to a consumer of {group} after {timeout}s"
        member.poll(0.5)
    return member


def resume(bootstrap: str, group: str, topic: str, timeout: float = 60) -> tuple[dict[int, int], dict[int, list]]:
    """What a consumer of the group reads from its committed offsets to each partition's end: (the offset of the
    first record read, or of the end reached when there was none to read; the values read), per partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest",  # were nothing committed, the other writer's records show
                         "isolation.level": "read_committed", "enable.partition.eof": True})
    consumer.subscribe([topic])
    first: dict[int, int] = {}
    values: dict[int, list] = {p: [] for p in range(PARTITIONS)}
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(at_end) < PARTITIONS:
            assert time.monotonic() < deadline, f"partitions {set(range(PARTITIONS)) - at_end} not read to their end"
            for m in consumer.consume(1000, 0.5):
                first.setdefault(m.partition(), m.offset())
                if m.error() is not None:
                    assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                    at_end.add(m.partition())
                else:
                    values[m.partition()].append(m.value())
    finally:
        consumer.close()  # never committed
    return first, values


def topic_names(bootstrap: str) -> set[str]:
    """Every topic's name (metadata of all topics: asking for one would create it with auto.create.topics.enable)."""
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics)


def test_a_translated_group_is_failed_over_with_the_module_and_resumes_on_the_secondary(clusters, tmp_path):
    source, target, topic, mirror_group, app = on_both(clusters, "failover")
    commit(target, app, topic, {p: STALE for p in range(PARTITIONS)})
    produce_plain(source, topic, PER_PARTITION)
    commit(source, app, topic, POSITIONS)

    # 1. Mirrored with the offset map and the group's offsets copied, then translated from the secondary alone.
    mirror = Mirror(tmp_path, source, target, mirror_group,
                    *write_worker_yaml(tmp_path, source, target, topic, mirror_group, app, streams=1))
    try:
        wait_caught_up(source, mirror_group, topic, 120, mirror)
        wait_synced(tmp_path, app, POSITIONS, 60, mirror)
    finally:
        assert mirror.stop() == 0, mirror.output()[-3000:]
    code, translated = translate(tmp_path, app)
    assert code == 0, translated
    rows = translated["partitions"]
    assert all(r["status"] == "exact" for r in rows), rows
    wanted = {r["partition"]: r["target_offset"] for r in rows}
    assert wanted == {p: ALREADY_THERE + o for p, o in POSITIONS.items()}  # the other writer's records come first
    stale = {p: STALE for p in range(PARTITIONS)}

    # 2. A consumer of the group active on the secondary: refused, naming the group, nothing committed.
    member = join(target, app, topic)
    try:
        assert group_state(target, app) == ("STABLE", 1)
        refused = failover(target, app, rows)
        assert refused["failed"] and f"group '{app}'" in refused["msg"], refused
        assert "1 active member" in refused["msg"] and "Stop the group's consumers" in refused["msg"], refused["msg"]
        assert committed(target, app, topic) == stale
    finally:
        member.close()
    wait_empty(target, app)

    # 3. Check mode: the change per partition, old -> new, and nothing committed.
    checked = failover(target, app, rows, check=True)
    assert not checked["failed"] and checked["changed"], checked
    for p in range(PARTITIONS):
        assert f"{topic}:{p}: {STALE} -> {wanted[p]}\n" in checked["diff_text"], checked["diff_text"]
    assert committed(target, app, topic) == stale

    # 4. The commit, then a re-run that changes nothing.
    done = failover(target, app, rows)
    assert not done["failed"] and done["changed"], done
    assert done["group_state"] == "EMPTY" and done["not_set"] == []
    end = ALREADY_THERE + PER_PARTITION
    assert [(c["partition"], c["before"], c["after"], c["lag"]) for c in done["partitions"]] == \
        [(p, STALE, wanted[p], end - wanted[p]) for p in range(PARTITIONS)]
    assert committed(target, app, topic) == wanted
    again = failover(target, app, rows)
    assert not again["failed"] and not again["changed"], again

    # 5. The group's consumer on the secondary reads exactly what it would have read next on the primary.
    expected = read_from(source, topic, POSITIONS)
    first, values = resume(target, app, topic)
    assert first == wanted  # its first record, or the end for partition 3, which it had read to the end
    for p in range(PARTITIONS):
        print(f"partition {p}: primary {POSITIONS[p]} -> secondary {wanted[p]}: {len(values[p])} read, "
              f"{len(expected[p])} expected")
        assert values[p] == expected[p]
    wait_empty(target, app)

    # 6. Offsets the secondary cannot take: refused naming what is missing or past the end, nothing changed, and
    # the missing topic is not created by reading metadata.
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    moved = [{**r, "target_offset": r["target_offset"] - 1} for r in rows]  # would change every partition
    absent = failover(target, app, moved + [{"topic": missing, "partition": 0, "offset": 3},
                                            {"topic": topic, "partition": PARTITIONS, "offset": 0}])
    assert absent["failed"] and f"no topic '{missing}'" in absent["msg"], absent
    assert f"has {PARTITIONS} partitions, so no {topic}:{PARTITIONS}" in absent["msg"], absent["msg"]
    assert missing not in topic_names(target)
    past = failover(target, app, [{**rows[0], "target_offset": end + 1}] + moved[1:])
    assert past["failed"] and f"offset {end + 1} of {topic}:0 is past its end on the secondary ({end})" in past["msg"]
    assert committed(target, app, topic) == wanted

    # 7. Rows kafka-mirror really prints that are not exact, read from the primary: the group moved on past what the
    # (stopped) mirror mapped, so each partition is inexact (safe: it may re-read), and onto a topic the mirror does
    # not copy, which is unmapped (no safe offset).
    produce_plain(source, topic, 100)
    beyond = {p: PER_PARTITION + 50 for p in range(PARTITIONS)}
    commit(source, app, topic, beyond)
    other = f"not-mirrored-{uuid.uuid4().hex[:8]}"
    create(source, other, partitions=1)
    commit(source, app, other, {0: 0})
    code, live = translate(tmp_path, app, "--group-offsets", "primary")
    assert code == 4, live
    real = live["partitions"]
    status = {(r["topic"], r["partition"]): (r["status"], r["target_offset"], r["reread_at_most"]) for r in real}
    assert status[(other, 0)][:2] == ("unmapped", None), status
    assert all(status[(topic, p)] == ("inexact", end, 50) for p in range(PARTITIONS)), status
    # by default an unmapped partition refuses the whole group, naming it and the way on
    refused = failover(target, app, real)
    assert refused["failed"] and f"{other}:0" in refused["msg"] and "allow_incomplete" in refused["msg"], refused
    # require_exact refuses the inexact ones, saying how much each may re-read
    strict = failover(target, app, real, require_exact=True, allow_incomplete=True)
    assert strict["failed"] and "require_exact" in strict["msg"] and "may re-read 50" in strict["msg"], strict
    assert committed(target, app, topic) == wanted  # neither changed anything
    # allow_incomplete sets the safe ones and reports the rest
    partial = failover(target, app, real, allow_incomplete=True)
    assert not partial["failed"] and partial["changed"], partial
    assert [(r["topic"], r["partition"], r["status"]) for r in partial["not_set"]] == [(other, 0, "unmapped")]
    assert committed(target, app, topic) == {p: end for p in range(PARTITIONS)}
    assert other not in topic_names(target)

    # 8. A group the primary has no commits of: translation says so and names the way on, from the map or the primary.
    nobody = f"never-committed-{uuid.uuid4().hex[:8]}"
    code, none = translate(tmp_path, nobody, allow_missing=True)
    assert code == 1 and none == {}
    proc = subprocess.run([str(Path(sys.executable).parent / "kafka-mirror"), "offsets", "translate", "--config",
                           str(tmp_path / "worker.yaml"), "--group", nobody, "--group-offsets", "primary", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and f"group {nobody} has no committed offsets on the primary" in proc.stderr, proc
    assert "Traceback" not in proc.stderr


def wait_committed(bootstrap: str, group: str, topic: str, wanted: dict[int, int], timeout: float,
                   mirror: Mirror) -> None:
    deadline = time.monotonic() + timeout
    while (now := committed(bootstrap, group, topic)) != wanted:
        assert mirror.proc.poll() is None, mirror.output()[-3000:]
        assert time.monotonic() < deadline, f"group {group} at {now} on {bootstrap}, not {wanted}, after {timeout}s"
        time.sleep(1)


def test_synced_groups_follow_on_the_secondary_while_idle_there_and_only_forward(clusters, tmp_path):
    """sync_group_offsets (MirrorMaker 2's sync.group.offsets.enabled): the worker commits the group's translated
    offsets on the secondary while the group has no member there, never moving a partition back."""
    from kafka_mirror.mirror import GROUP_SYNC_S

    source, target, topic, mirror_group, app = on_both(clusters, "groupsync")
    produce_plain(source, topic, PER_PARTITION)
    commit(source, app, topic, POSITIONS)
    commit(target, app, topic, {p: STALE for p in range(PARTITIONS)})
    member = join(target, app, topic)  # a consumer of the group on the secondary: its offsets are its own
    args = write_worker_yaml(tmp_path, source, target, topic, mirror_group, app, streams=1, sync_group_offsets=True)
    mirror = Mirror(tmp_path, source, target, mirror_group, *args)
    try:
        wait_caught_up(source, mirror_group, topic, 120, mirror)
        wait_synced(tmp_path, app, POSITIONS, 60, mirror)
        member.poll(0.1)
        time.sleep(GROUP_SYNC_S + 2)  # a sync after the map held the group: skipped, the group has a member
        member.poll(0.1)
        assert committed(target, app, topic) == {p: STALE for p in range(PARTITIONS)}
        member.close()
        member = None
        wanted = {p: ALREADY_THERE + o for p, o in POSITIONS.items()}
        wait_committed(target, app, topic, wanted, 3 * GROUP_SYNC_S, mirror)
        # A consumer of the secondary that moved on past the translation keeps its offsets: only forward.
        ahead = {p: ALREADY_THERE + PER_PARTITION for p in range(PARTITIONS)}
        commit(target, app, topic, ahead)
        moved = {p: o + 10 for p, o in POSITIONS.items() if p != 3}  # 3 is at the end already
        commit(source, app, topic, moved)
        wait_synced(tmp_path, app, {**POSITIONS, **moved}, 60, mirror)
        time.sleep(GROUP_SYNC_S + 2)
        assert committed(target, app, topic) == ahead
    finally:
        if member is not None:
            member.close()
        assert mirror.stop() == 0, mirror.output()[-3000:]
    assert "moved on the target to their translated offsets" in mirror.output()
