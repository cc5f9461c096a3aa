"""Exact offset translation against the lab's real clusters: a consumer group of the primary resumes on the secondary
with nothing skipped and nothing read again beyond the secondary's own duplicates, after kill -9 of the mirror.

Each record's value names its source identity (partition:sequence); the source has transactional stretches (commit
markers and an aborted transaction leave gaps in its offsets) before plain ones. A local producer of the secondary
writes the same topic all along (as in active-active), so the mirror's records are interleaved with others there.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, ElectionType, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from .coordinator import asked_again, watermarks
from .test_mirror import Mirror, clusters, create, settled_count, wait_caught_up, wait_count  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration
PARTITIONS = 4
PER_PARTITION = 40_000
TXN_RECORDS = 2_000  # per partition, in transactions of 100, one of them aborted
HELD_AT = PER_PARTITION * 3 // 4  # the source stops growing here until the mirror was killed


def produce_identified(bootstrap: str, topic: str, plain_per_second: float,
                       resume: threading.Event) -> threading.Thread:
    """Records whose value is 'partition:sequence': first transactional (gaps in offsets), then plain ones, paced,
    from a thread that is returned. The plain part holds at HELD_AT a partition until `resume` is set: however slow
    the machine, the mirror is killed with source records it has not copied yet."""
    txn = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{topic}", "linger.ms": 5})
    txn.init_transactions(30)
    seq = {p: 0 for p in range(PARTITIONS)}
    for chunk in range(TXN_RECORDS // 100):
        txn.begin_transaction()
        aborted = chunk == 7
        for p in range(PARTITIONS):
            for _ in range(100):
                value = b"aborted" if aborted else b"%d:%d" % (p, seq[p])
                txn.produce(topic, value, b"k", partition=p)
                seq[p] += 0 if aborted else 1
        if aborted:
            txn.flush(30)  # the aborted records reach the log (offsets the consumer never sees) before the abort
            txn.abort_transaction(30)
        else:
            txn.commit_transaction(30)

    def plain() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True})
        started = time.monotonic()
        sent = 0
        while seq[0] < PER_PARTITION:
            if seq[0] >= HELD_AT and not resume.is_set():
                assert producer.flush(60) == 0
                resume.wait(300)
                started, sent = time.monotonic(), 0
            for p in range(PARTITIONS):  # round-robin: every partition grows the whole time
                for _ in range(min(250, PER_PARTITION - seq[p])):
                    producer.produce(topic, b"%d:%d" % (p, seq[p]), b"k", partition=p)
                    seq[p] += 1
                    sent += 1
            producer.poll(0)
            time.sleep(max(0.0, started + sent / plain_per_second - time.monotonic()))
        assert producer.flush(60) == 0

    thread = threading.Thread(target=plain, name=f"produce-{topic}", daemon=True)
    thread.start()
    return thread


def read_from(bootstrap: str, topic: str, positions: dict[int, int]) -> dict[int, list[bytes]]:
    """Values of each partition from `positions` to its end (read_committed)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    ends = {p: watermarks(consumer, topic, p)[1] for p in positions}
    consumer.assign([TopicPartition(topic, p, o) for p, o in positions.items()])
    out: dict[int, list[bytes]] = {p: [] for p in positions}
    todo = {p for p in positions if positions[p] < ends[p]}
    deadline = time.monotonic() + 120
    while todo and time.monotonic() < deadline:
        for m in consumer.consume(10000, 1.0):
            assert m.error() is None, m.error()
            if m.offset() < ends[m.partition()]:
                out[m.partition()].append(m.value())
            if m.offset() + 1 >= ends[m.partition()]:
                todo.discard(m.partition())
        # a read_committed partition ending in a control record has nothing more to give
        for p in list(todo):
            if consumer.position([TopicPartition(topic, p)])[0].offset >= ends[p]:
                todo.discard(p)
    consumer.close()
    assert not todo, f"partitions {sorted(todo)} of {topic} not read to their end"
    return out


def as_group(bootstrap: str, group: str, call):
    """call(consumer) with a consumer of the group, asked again while its coordinator moves."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return asked_again(lambda: call(consumer))
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's commits."""
    tps = as_group(bootstrap, group, lambda c: c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)],
                                                           timeout=30))
    return {tp.partition: tp.offset for tp in tps}


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit as the group."""
    as_group(bootstrap, group, lambda c: c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                                                  asynchronous=False))


def write_locally(bootstrap: str, topic: str, per_second: float) -> tuple[threading.Event, threading.Thread]:
    """A producer of the secondary writing 'local:n' into every partition of the mirrored topic until the event."""
    stop = threading.Event()

    def run() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
        n = 0
        while not stop.wait(PARTITIONS / per_second):
            for p in range(PARTITIONS):
                producer.produce(topic, b"local:%d" % n, b"k", partition=p)
            n += 1
            producer.poll(0)
        assert producer.flush(60) == 0

    thread = threading.Thread(target=run, name=f"local-{topic}", daemon=True)
    thread.start()
    return stop, thread


def write_worker_yaml(workdir: Path, source: str, target: str, topic: str, mirror_group: str, app: str,
                      streams: int, exactly_once: bool = False, sync_group_offsets: bool = False) -> tuple:
    """worker.yaml with the offset map on and the application's group synced; the kafka-mirror arguments to use it."""
    (workdir / "worker.yaml").write_text(yaml.safe_dump({"exactly_once": exactly_once,
        "sync_group_offsets": sync_group_offsets,
        "consumer": {"bootstrap.servers": source, "group.id": mirror_group},
        "producer": {"bootstrap.servers": target}, "include": topic, "sync_groups": [app],
        "offset_map": True, "num_streams": streams, "offset_commit_interval_ms": 1000, "metrics_port": 0,
        # restarted as the role's unit restarts it: the same static members, back at once (no session timeout)
        "instance_id": f"w-{topic}"}))
    return ("--config", str(workdir / "worker.yaml"))


def translate(workdir: Path, group: str, *args: str, allow_missing: bool = False) -> tuple[int, dict]:
    """`kafka-mirror offsets translate --json`; with allow_missing, a group not (yet) in the map gives {}."""
    proc = subprocess.run([str(Path(sys.executable).parent / "kafka-mirror"), "offsets", "translate", "--config",
                           str(workdir / "worker.yaml"), "--group", group, "--json", *args],
                          capture_output=True, text=True, timeout=300)
    if allow_missing and not proc.stdout and "no offsets of group" in proc.stderr:
        return proc.returncode, {}
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_a_group_of_the_primary_resumes_on_the_secondary_exactly_after_kill_9(clusters, tmp_path, exactly_once):
    """With exactly_once, the map is written inside the mirror's transactions: the killed worker's open transaction,
    records and map entries alike, is aborted by its successor, and the target holds no duplicate to re-read."""
    source, target = clusters
    topic = f"xlate-{uuid.uuid4().hex[:8]}"
    mirror_group, app = f"g-{topic}", f"app-{topic}"
    create(source, topic, partitions=PARTITIONS)
    create(target, topic, partitions=PARTITIONS)  # the local producer writes from the start
    local, writing = write_locally(target, topic, per_second=400)
    resume = threading.Event()
    producing = produce_identified(source, topic, plain_per_second=8_000, resume=resume)
    total = PARTITIONS * PER_PARTITION
    args = write_worker_yaml(tmp_path, source, target, topic, mirror_group, app, streams=2, exactly_once=exactly_once)
    try:
        mirror = Mirror(tmp_path, source, target, mirror_group, *args)
        wait_count(target, topic, total // 3, 120, mirror)
        mirror.kill9()  # mid-stream: what reached the target beyond the last commit is mirrored again
        mirror_at_kill = committed(source, mirror_group, topic)
        source_at_kill = {p: consumer_end(source, topic, p) for p in range(PARTITIONS)}
    finally:
        resume.set()  # never left holding a producer into the next test
    # Mid-stream: the killed mirror had not committed all the source held then.
    assert sum(max(o, 0) for o in mirror_at_kill.values()) < sum(source_at_kill.values()), \
        (mirror_at_kill, source_at_kill)
    producing.join(120)
    assert not producing.is_alive(), "the source's records were not all produced within 120s"

    # The application's group on the primary: one partition before the mirror's commit at the kill (held once),
    # one in what the target holds twice, one in a transactional gap (right after a commit marker), one far on.
    landed = {p: consumer_end(target, topic, p) for p in range(PARTITIONS)}  # target offsets: about the source's
    at_kill = {p: max(o, 0) for p, o in mirror_at_kill.items()}
    positions = {0: max(1, at_kill[0] - 500),
                 1: at_kill[1] + 5 if landed[1] > at_kill[1] + 5 else at_kill[1],
                 2: 100,  # records 0..99 are the first transaction, 100 its commit marker: the next record is 101
                 3: PER_PARTITION * 3 // 4}
    commit(source, app, topic, positions)
    again = Mirror(tmp_path, source, target, mirror_group, *args)
    try:
        wait_caught_up(source, mirror_group, topic, 240, again)
        time.sleep(2)  # stream 0 copies the group's offsets at its first commit, then every 10 s
    finally:
        assert again.stop() == 0, again.output()[-3000:]
        local.set()
        writing.join(60)

    code, result = translate(tmp_path, app)
    live_code, live = translate(tmp_path, app, "--group-offsets", "primary")
    print("\n" + json.dumps(result, indent=1))
    assert code == 0 and live_code == 0, result
    assert [r["source_offset"] for r in result["partitions"]] == [positions[p] for p in range(PARTITIONS)]
    assert live["partitions"] == result["partitions"]
    translated = {r["partition"]: r["target_offset"] for r in result["partitions"]}
    assert all(r["status"] == "exact" for r in result["partitions"])

    expected = read_from(source, topic, positions)  # what the group reads next on the primary
    resumed = read_from(target, topic, translated)  # what it reads on the secondary from the translation
    whole = read_from(target, topic, {p: 0 for p in range(PARTITIONS)})
    for p in range(PARTITIONS):
        assert resumed[p][0] == expected[p][0]  # exactly the record after the group's position: no local one first
        want = expected[p]
        got = [v for v in resumed[p] if not v.startswith(b"local:")]
        locals_read = len(resumed[p]) - len(got)
        assert b"aborted" not in got
        first = int(want[0].split(b":")[1])
        before = [v for v in got if int(v.split(b":")[1]) < first]
        skipped = set(want) - set(got)
        rereads = len(got) - len(set(got))
        mirrored = [v for v in whole[p] if not v.startswith(b"local:")]
        held_twice = len(mirrored) - len(set(mirrored))
        print(f"partition {p}: group at {positions[p]} -> secondary {translated[p]}: {len(got)} read, "
              f"{len(skipped)} skipped, {len(before)} before the group's position, {rereads} read twice "
              f"(the secondary holds {held_twice} duplicates in the partition), {locals_read} local records")
        assert not skipped and not before
        assert rereads <= held_twice
        assert locals_read, "no local record after the translated position: the local producer did not interleave"
        if exactly_once:
            assert held_twice == 0
    map_records = count_map(target)
    print(f"offset map: {map_records} records on the target's map topic (all sources, before compaction)")


def test_the_mirror_outlives_the_synced_groups_coordinator_moving(lab, clusters, tmp_path):
    """A group in sync_groups whose coordinator moves while its old coordinator stays up: that broker answers the
    mirror's OffsetFetch NOT_COORDINATOR. Read through an admin client, that answer ends the process with SIGSEGV
    (confluentinc/librdkafka#5040: rd_kafka_handle_OffsetFetch, src/rdkafka_request.c, hands it to the client's
    consumer group, which an admin client lacks); the mirror reads through a consumer of the group
    (kafka_mirror/group_offsets.py). The coordinator is moved with real controls: its broker restarted through
    Ambari (controlled shutdown moves it away), then a preferred leader election (moves it back)."""
    source, target = clusters
    topic = f"coord-{uuid.uuid4().hex[:8]}"
    mirror_group, app = f"g-{topic}", f"app-{topic}"
    create(source, topic, partitions=PARTITIONS)
    produce_plain(source, topic, 2_000)
    commit(source, app, topic, {p: 100 for p in range(PARTITIONS)})
    mirror = Mirror(tmp_path, source, target, mirror_group,
                    *write_worker_yaml(tmp_path, source, target, topic, mirror_group, app, streams=1))
    try:
        wait_caught_up(source, mirror_group, topic, 120, mirror)
        wait_synced(tmp_path, app, 100, 60, mirror)  # the mirror has read the group through its coordinator
        moved = coordinator(source, app)
        host = next(h.fqdn for h in lab.primary.spec.hosts() if h.node_id == moved)
        info, _ = lab.primary.restart([host])
        assert info["request_status"] == "COMPLETED", info
        commit(source, app, topic, {p: 200 for p in range(PARTITIONS)})
        time.sleep(12)  # a sync against the interim coordinator
        elect_preferred(source)
        commit(source, app, topic, {p: 300 for p in range(PARTITIONS)})
        wait_synced(tmp_path, app, 300, 120, mirror)  # read again after both moves
        assert mirror.proc.poll() is None, mirror.output()[-3000:]
    finally:
        assert mirror.stop() == 0, mirror.output()[-3000:]
    assert "SIGSEGV" not in mirror.output() and "Fatal Python error" not in mirror.output()

    # The group's positions on a topic the mirror does not copy: read from the primary, they come out unmapped
    # (what a failover would lose), and the command says it is not exact.
    other = f"not-mirrored-{uuid.uuid4().hex[:8]}"
    create(source, other, partitions=1)
    commit(source, app, other, {0: 7})
    code, live = translate(tmp_path, app, "--group-offsets", "primary")
    assert code == 4, live
    rows = {(r["topic"], r["partition"]): r for r in live["partitions"]}
    assert rows[(other, 0)]["status"] == "unmapped" and rows[(other, 0)]["source_offset"] == 7
    assert all(rows[(topic, p)]["source_offset"] == 300 for p in range(PARTITIONS))


def test_a_groups_offsets_are_read_while_it_commits_in_an_open_transaction(clusters):
    """A group committing through a transaction (send_offsets_to_transaction) that is still open: the broker holds
    back the pending offsets from a reader that asks for stable ones (UNSTABLE_OFFSET_COMMIT, which librdkafka
    retries until the call's timeout). The mirror reads the last committed ones at once, as an admin client did."""
    from kafka_mirror.group_offsets import GroupOffsets

    source, _ = clusters
    topic = f"txn-offsets-{uuid.uuid4().hex[:8]}"
    group = f"app-{topic}"
    create(source, topic, partitions=1)
    commit(source, group, topic, {0: 5})
    member = Consumer({"bootstrap.servers": source, "group.id": group})
    txn = Producer({"bootstrap.servers": source, "transactional.id": f"tx-{topic}"})
    txn.init_transactions(30)
    txn.begin_transaction()
    txn.produce(topic, b"x", partition=0)
    # Delivered before the abort: librdkafka's abort waits for outstanding records' reports, which only a poll
    # serves (CI: abort_transaction timed out with the record still in transit).
    assert txn.flush(30) == 0
    txn.send_offsets_to_transaction([TopicPartition(topic, 0, 10)], member.consumer_group_metadata(), 30)
    reader = GroupOffsets({"bootstrap.servers": source})
    try:
        started = time.monotonic()
        assert reader.read(group, [(topic, 0)], 20.0) == {(topic, 0): 5}
        print(f"read in {time.monotonic() - started:.1f}s while the transaction is open")
    finally:
        reader.close()
        txn.abort_transaction(30)
        member.close()


def produce_plain(bootstrap: str, topic: str, per_partition: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for p in range(PARTITIONS):
        for i in range(per_partition):
            producer.produce(topic, b"%d:%d" % (p, i), b"k", partition=p)
        producer.poll(0)
    assert producer.flush(60) == 0


def coordinator(bootstrap: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return asked_again(
        lambda: admin.describe_consumer_groups([group], request_timeout=30)[group].result(timeout=30)).coordinator.id


def elect_preferred(bootstrap: str) -> None:
    """Leaders of __consumer_offsets back to their preferred replicas (the restarted broker among them)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics("__consumer_offsets", timeout=30).topics["__consumer_offsets"]
    future = admin.elect_leaders(ElectionType.PREFERRED,
                                 [TopicPartition("__consumer_offsets", p) for p in md.partitions])
    future.result(timeout=60)  # per partition: moved, or ELECTION_NOT_NEEDED


def wait_synced(workdir: Path, group: str, positions: int | dict[int, int], timeout: float,
                mirror: Mirror) -> dict:
    """Until the offset map holds the group at `positions` (one offset for every partition, or per partition), as
    `kafka-mirror offsets translate` reads it; its answer."""
    wanted = [positions if isinstance(positions, int) else positions[p] for p in range(PARTITIONS)]
    deadline = time.monotonic() + timeout
    while True:
        assert mirror.proc.poll() is None, f"kafka-mirror exited {mirror.proc.returncode}:\n{mirror.output()[-3000:]}"
        _, result = translate(workdir, group, allow_missing=True)
        if [r["source_offset"] for r in result.get("partitions", [])] == wanted:
            return result
        assert time.monotonic() < deadline, f"group {group} not at {positions} in the offset map: {result}"
        time.sleep(2)


def consumer_end(bootstrap: str, topic: str, partition: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ends"})
    try:
        return watermarks(consumer, topic, partition)[1]
    finally:
        consumer.close()


def count_map(bootstrap: str) -> int:
    return consumer_end(bootstrap, "kafka-mirror.offset-map", 0)
