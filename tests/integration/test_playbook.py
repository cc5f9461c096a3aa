"""setup-mirroring.yml against the lab: converges, then changes and restarts nothing; --check tells the truth."""
from __future__ import annotations

import json
import subprocess

import pytest
from confluent_kafka.admin import AdminClient

from kafka_lab import node
from kafka_lab.layout import Paths

from .playbook import playbook

pytestmark = pytest.mark.integration
PLAYBOOK = "playbooks/setup-mirroring.yml"


def request_ids(cluster) -> list[int]:
    return sorted(i["Requests"]["id"] for i in cluster.client.get(
        f"clusters/{cluster.name}/requests?Requests/id>=0")["items"])


def on_node(lab, command: str) -> str:
    info = json.loads((Paths(lab.config.home).node_dir / "node.json").read_text())
    proc = subprocess.run(node.ssh_argv(info["key"], info["ip"], command), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_second_run_changes_and_restarts_nothing(lab):
    output, _ = playbook(PLAYBOOK)  # converge (on a fresh lab it changes everything)
    assert "canary mirrored in" in output
    before = {c.name: request_ids(c) for c in (lab.primary, lab.secondary)}
    service = on_node(lab, "systemctl show kafka-mirror -p MainPID -p ActiveState -p User")
    _, recap = playbook(PLAYBOOK)
    assert {host: r["changed"] for host, r in recap.items()} == {"lab-primary": 0, "lab-secondary": 0, "lab-node": 0}
    assert {c.name: request_ids(c) for c in (lab.primary, lab.secondary)} == before  # no broker restarted
    assert on_node(lab, "systemctl show kafka-mirror -p MainPID -p ActiveState -p User") == service  # nor the worker
    assert "ActiveState=active" in service and "User=kafka-mirror" in service
    assert on_node(lab, "stat -c '%a %U' /etc/kafka-mirror/consumer.properties /etc/kafka-mirror/producer.properties"
                        " /etc/kafka-mirror/worker.yaml").split("\n") == ["600 kafka-mirror"] * 3
    output, recap = playbook(PLAYBOOK, "--check", "--diff")
    assert all(r["changed"] == 0 for r in recap.values()) and "+++ after" not in output
    for cluster in (lab.primary, lab.secondary):  # the article's goal: brokers reachable by IP from outside
        brokers = AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics(timeout=30).brokers
        assert {b.id: b.host for b in brokers.values()} == {h.node_id: h.ip for h in cluster.spec.hosts()}


def test_check_mode_on_a_changed_cluster_shows_the_change_and_the_restart(lab, restore):
    primary = restore
    _, props = primary.desired("kafka-broker")
    primary.put("kafka-broker", {**props, "listeners": "PLAINTEXT://localhost:9092"}, "test: drift")
    output, recap = playbook(PLAYBOOK, "--check", "--diff", "--limit", "lab-primary")
    assert "-listeners=PLAINTEXT://localhost:9092" in output and "+listeners=PLAINTEXT://0.0.0.0:9092" in output
    assert recap["lab-primary"]["changed"] == 2  # the listeners change, and the restart that would follow
    assert primary.desired("kafka-broker")[1]["listeners"] == "PLAINTEXT://localhost:9092"  # nothing written
