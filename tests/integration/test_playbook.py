"""setup-mirroring.yml against the lab: converges, then changes and restarts nothing; --check tells the truth."""
from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from .playbook import playbook

pytestmark = pytest.mark.integration
PLAYBOOK = "playbooks/setup-mirroring.yml"


def request_ids(cluster) -> list[int]:
    return sorted(i["Requests"]["id"] for i in cluster.client.get(
        f"clusters/{cluster.name}/requests?Requests/id>=0")["items"])


def test_second_run_changes_and_restarts_nothing(lab):
    playbook(PLAYBOOK)  # converge (may change, on a fresh lab it does)
    before = {c.name: request_ids(c) for c in (lab.primary, lab.secondary)}
    _, recap = playbook(PLAYBOOK)
    assert {host: r["changed"] for host, r in recap.items()} == {"lab-primary": 0, "lab-secondary": 0}
    assert {c.name: request_ids(c) for c in (lab.primary, lab.secondary)} == before  # no restart requested
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
