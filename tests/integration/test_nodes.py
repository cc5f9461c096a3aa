"""Two worker nodes (kafka-lab up --nodes 2; make test-nodes): a pair scaled out to both, its consumer group splitting
the partitions and losing nothing when one node is powered off (issue 13 item 5); and active-active, a pair each
way on the same topic, one worker node each, deployed by one run of setup-mirroring.yml (issue 11 item 5)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_lab import node
from kafka_lab.layout import Paths

from .conftest import kafka_lab
from .coordinator import watermarks
from .playbook import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.nodes]
PAIR_TOPIC = "testtopic"  # the lab inventory's pair, 8 partitions
GROUP = "kafka-mirror-lab"  # the role's group of the pair named lab
PRIMARY, SECONDARY = "lab-primary", "lab-secondary"


@pytest.fixture(scope="module")
def two_nodes(lab):
    """The lab with a second worker node; at the end the inventory's own deployment again: node 2's service
    disabled (booted again if a test left it off, so that no later boot brings its worker back into a group) and
    powered off, the first node's worker as inventory/lab has it."""
    kafka_lab("--home", str(lab.config.home), "up", "--nodes", "2")
    yield lab
    kafka_lab("--home", str(lab.config.home), "up", "--nodes", "2")
    on_node(lab, 1, "systemctl disable --now kafka-mirror || true")
    kafka_lab("--home", str(lab.config.home), "up", "--nodes", "1")
    run_playbook(lab, None, {})


def on_node(lab, index: int, command: str, check: bool = True) -> str:
    info = json.loads((Paths(lab.config.home).node_home(index) / "node.json").read_text())
    proc = subprocess.run(node.ssh_argv(Path(info["key"]), info["ip"], command), capture_output=True, text=True,
                          timeout=120)
    assert not check or proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def run_playbook(lab, tmp_path: Path | None, extra: dict) -> str:
    """setup-mirroring.yml on inventory/lab plus the second node as lab-node-2, with `extra` as a vars file."""
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(ROOT / "inventory/lab")]
    if tmp_path is not None:
        second = node.inventory_host(lab.secondary.spec, 1)
        (tmp_path / "nodes.yml").write_text(yaml.safe_dump(
            {"all": {"children": {"mirror_workers": {"hosts": {"lab-node-2": second}}}}}))
        (tmp_path / "vars.json").write_text(json.dumps(extra))
        argv += ["-i", str(tmp_path / "nodes.yml"), "-e", f"@{tmp_path / 'vars.json'}"]
    proc = subprocess.run([*argv, "setup-mirroring.yml"], capture_output=True, text=True, cwd=ROOT, timeout=1800,
                          env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc.stdout


def pair(name: str, primary: str, secondary: str, topic: str, workers: list[str]) -> dict:
    return {"name": name, "primary": primary, "secondary": secondary, "workers": workers,
            "topics": [{"name": topic, "partitions": 8, "replication_factor": 2}]}


def assignment(bootstrap: str, group: str, topic: str) -> dict[str, set[int]]:
    """Partitions of `topic` per worker host (the static member ids begin with the inventory host)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(30)
    out: dict[str, set[int]] = {}
    for member in description.members:
        host = (member.group_instance_id or "").rsplit("-", 2)[0]
        out.setdefault(host, set()).update(tp.partition for tp in member.assignment.topic_partitions
                                           if tp.topic == topic)
    return out


def wait_for(what: str, probe, timeout: float):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(2)
    pytest.fail(f"{what} within {timeout:.0f}s (last: {last})", pytrace=False)


def ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{uuid.uuid4()}"})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return {p: watermarks(consumer, topic, p)[1] for p in partitions}
    finally:
        consumer.close()


def tagged(bootstrap: str, topic: str, since: dict[int, int], run: bytes) -> list[tuple[bytes, int]]:
    """(origin, seq) of every record of this run on `topic` after `since`, duplicates kept."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    until = ends(bootstrap, topic)
    consumer.assign([TopicPartition(topic, p, since.get(p, 0)) for p in until])
    remaining = sum(until[p] - since.get(p, 0) for p in until)
    out = []
    deadline = time.monotonic() + 120
    while remaining > 0 and time.monotonic() < deadline:
        for m in consumer.consume(10000, 1.0):
            assert m.error() is None, m.error()
            if m.offset() < until[m.partition()]:
                remaining -= 1
            headers = dict(m.headers() or [])
            if headers.get("run") == run:
                out.append((headers["origin"], int(headers["seq"])))
    consumer.close()
    return out


def produce(bootstrap: str, topic: str, n: int, run: bytes, origin: bytes, rate: float) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 10})
    start = time.monotonic()
    for i in range(n):
        while time.monotonic() - start < i / rate:
            producer.poll(0.005)
        producer.produce(topic, b"%012d" % i, b"k%d" % (i % 64), headers=[("run", run), ("origin", origin),
                                                                         ("seq", b"%d" % i)])
        producer.poll(0)
    assert producer.flush(60) == 0


def test_a_pair_scaled_out_to_two_nodes_splits_its_partitions_and_loses_nothing_when_one_is_powered_off(
        two_nodes, tmp_path):
    lab = two_nodes
    output = run_playbook(lab, tmp_path, {"mirroring_pairs": [pair("lab", PRIMARY, SECONDARY, PAIR_TOPIC,
                                                                   ["lab-node", "lab-node-2"])]})
    assert "canary mirrored in" in output
    for index in (0, 1):
        assert on_node(lab, index, "systemctl is-active kafka-mirror") == "active"
    split = wait_for("both nodes holding partitions of the pair's topic",
                     lambda: (lambda a: a if len(a) == 2 and all(a.values()) else None)(
                         assignment(lab.primary.bootstrap, GROUP, PAIR_TOPIC)), 120)
    assert set(split) == {"lab-node", "lab-node-2"}
    assert split["lab-node"] | split["lab-node-2"] == set(range(8)) and not split["lab-node"] & split["lab-node-2"]

    # A steady stream; the second node powered off in the middle of it (its systemd stops the service cleanly:
    # its static members keep their partitions until session.timeout.ms, then the first node takes them).
    run, n = uuid.uuid4().hex.encode(), 30_000
    since = ends(lab.secondary.bootstrap, PAIR_TOPIC)
    stream = threading.Thread(target=produce, args=(lab.primary.bootstrap, PAIR_TOPIC, n, run, b"primary", 1000.0))
    stream.start()
    time.sleep(8)
    node.down(Paths(lab.config.home), keep=1)
    stream.join(120)
    moved = wait_for("the first node holding every partition",
                     lambda: (lambda a: a if a.get("lab-node") == set(range(8)) else None)(
                         assignment(lab.primary.bootstrap, GROUP, PAIR_TOPIC)), 180)
    assert set(moved) == {"lab-node"}
    got = wait_for(f"all {n} records on the secondary",
                   lambda: (lambda t: t if len(set(t)) >= n else None)(
                       tagged(lab.secondary.bootstrap, PAIR_TOPIC, since, run)), 240)
    seqs = {seq for _, seq in got}
    print(f"\nscale-out: {split['lab-node']} on lab-node, {split['lab-node-2']} on lab-node-2; node 2 powered off "
          f"mid-stream: {n - len(seqs)} missing, {len(got) - len(seqs)} duplicates of {n}")
    assert seqs == set(range(n))

    # Back: node 2 boots, its enabled service starts, and the group splits again.
    kafka_lab("--home", str(lab.config.home), "up", "--nodes", "2")
    wait_for("both nodes holding partitions again",
             lambda: (lambda a: a if len(a) == 2 and all(a.values()) else None)(
                 assignment(lab.primary.bootstrap, GROUP, PAIR_TOPIC)), 180)


def test_active_active_both_directions_from_one_playbook_run_mirror_each_record_once_and_never_loop(
        two_nodes, tmp_path):
    lab = two_nodes
    topic = f"aa-{uuid.uuid4().hex[:8]}"
    output = run_playbook(lab, tmp_path, {
        "mirroring_pairs": [pair("lab", PRIMARY, SECONDARY, topic, ["lab-node"]),
                            pair("lab-back", SECONDARY, PRIMARY, topic, ["lab-node-2"])],
        "mirror_worker_provenance": True})
    assert output.count("canary mirrored in") == 2  # each direction checked by the playbook itself
    run, n = uuid.uuid4().hex.encode(), 5_000
    writers = [threading.Thread(target=produce, args=(lab.primary.bootstrap, topic, n, run, b"A", 1000.0)),
               threading.Thread(target=produce, args=(lab.secondary.bootstrap, topic, n, run, b"B", 1000.0))]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
    clusters = {"primary": lab.primary.bootstrap, "secondary": lab.secondary.bootstrap}
    for name, bootstrap in clusters.items():
        wait_for(f"both origins' {n} records on the {name}",
                 lambda b=bootstrap: (lambda t: t if len(set(t)) >= 2 * n else None)(tagged(b, topic, {}, run)), 240)
    time.sleep(15)  # a loop would keep copying: give it time to show
    for name, bootstrap in clusters.items():
        got = tagged(bootstrap, topic, {}, run)
        print(f"\nactive-active on the {name}: {len(got)} records of this run, {len(set(got))} distinct")
        assert sorted(got) == sorted([(b"A", i) for i in range(n)] + [(b"B", i) for i in range(n)])
