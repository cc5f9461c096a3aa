"""The ambari_* modules through ansible-core against the real lab: what the brokers end up running."""
from __future__ import annotations

import json

import pytest

from .playbook import module_run

pytestmark = pytest.mark.integration


def ansible(module: str, cluster, args: dict, check: bool = False, diff: bool = False, password: str | None = None,
            url: str | None = None) -> dict:
    """An ambari_* module against a lab cluster; the password travels in the environment."""
    env = {"AMBARI_URL": url or cluster.client.url,
           "AMBARI_PASSWORD": password if password is not None else cluster.client.password}
    return module_run(module, args, env, check=check, diff=diff)


def requests_of(cluster) -> list[int]:
    items = cluster.client.get(f"clusters/{cluster.name}/requests?Requests/id>=0")["items"]
    return sorted(i["Requests"]["id"] for i in items)


def test_check_then_change_then_restart_exactly_the_stale_then_nothing(lab, restore):
    primary = restore
    args = {"config_type": "kafka-broker", "properties": {"log.retention.hours": 120}}
    tag_before = primary.desired("kafka-broker")[0]
    checked = ansible("ambari_config", primary, args, check=True, diff=True)
    assert checked["changed"] and "+log.retention.hours=120" in checked["diff_text"]
    assert primary.desired("kafka-broker")[0] == tag_before and primary.stale_hosts() == []
    assert set(primary.broker_config("log.retention.hours").values()) == {"168"}

    changed = ansible("ambari_config", primary, args, diff=True)
    assert changed["changed"] and changed["diff_text"] == checked["diff_text"]
    hosts = sorted(h.fqdn for h in primary.spec.hosts())
    assert sorted(c["host"] for c in changed["stale_components"]) == hosts == primary.stale_hosts()

    restarted = ansible("ambari_service", primary, {"wait_sleep": 1})
    assert restarted["changed"] and sorted(r["host"] for r in restarted["restarted"]) == hosts
    assert primary.stale_hosts() == []
    assert set(primary.broker_config("log.retention.hours").values()) == {"120"}

    seen = requests_of(primary)
    assert not ansible("ambari_config", primary, args)["changed"]
    again = ansible("ambari_service", primary, {"wait_sleep": 1})
    assert not again["changed"] and again["restarted"] == []
    assert requests_of(primary) == seen  # nothing restarted on the second run


# A rolling restart, one broker at a time with the batch separation kept, is shown under a mirrored stream in
# tests/integration/test_faults.py (rolling-primary); a rolling restart of stale brokers by every playbook test.


def test_failing_restart_names_the_host_and_the_brokers_error(lab, restore):
    primary = restore
    # A listener no broker can bind, whatever else the cluster has (IP advertising or not).
    ansible("ambari_config", primary, {"config_type": "kafka-broker",
                                       "properties": {"listeners": "PLAINTEXT://nohost::9092"}})
    result = ansible("ambari_service", primary, {"rolling": True, "batch_separation": 0, "wait_sleep": 1})
    first = sorted(h.fqdn for h in primary.spec.hosts())[0]
    assert result["failed"] and result["changed"]
    assert f"{first} KAFKA_BROKER FAILED" in result["msg"]
    assert "nohost::9092" in result["msg"] and "Exception" in result["msg"]  # the broker's own error
    assert len(primary.stale_hosts()) == len(primary.spec.hosts())  # only the first broker was tried


def test_bad_inputs_get_clear_messages(lab):
    primary = lab.primary
    wrong = ansible("ambari_cluster_info", primary, {}, password="not-the-password")
    assert wrong["failed"] and wrong["msg"].startswith(
        f"Authentication or permission failed for user 'admin' at {primary.client.url}")
    unknown = ansible("ambari_config", primary, {"cluster": "nope", "config_type": "kafka-broker"})
    assert unknown["failed"] and "Cluster not found, clusterName=nope" in unknown["msg"]
    unreachable = ansible("ambari_service", primary, {}, url="http://127.0.0.1:1")
    assert unreachable["failed"] and unreachable["msg"].startswith("Cannot connect to Ambari at 127.0.0.1:1")
    for result in (wrong, unknown, unreachable):
        assert "Traceback" not in json.dumps(result) and "not-the-password" not in json.dumps(result)


def test_cluster_info_reads_the_real_clusters(lab):
    info = ansible("ambari_cluster_info", lab.secondary, {})
    assert info["cluster"] == lab.secondary.name
    assert info["bootstrap_servers"] == lab.secondary.bootstrap
    assert [b["ip"] for b in info["brokers"]] == [h.ip for h in lab.secondary.spec.hosts()]
    assert {b["state"] for b in info["brokers"]} == {"STARTED"}
