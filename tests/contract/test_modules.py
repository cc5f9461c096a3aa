"""The ambari_* modules end to end against the lab's API (in-process, simulated hosts), in 2.6 and 2.7 modes.

Module arguments are passed the way each claimed ansible-core reads them (tests/unit/plugins/module_args.py).
"""
from __future__ import annotations

import socket
import ssl
import subprocess
from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.modules import (
    ambari_cluster_info, ambari_config, ambari_service)

from ..unit.plugins.module_args import patch_module_args
from .conftest import CLUSTER, PASSWORD, running_api

SNIPPET = "IP_ADDRESS=$(hostname -i)\necho \"advertised.listeners=PLAINTEXT://$IP_ADDRESS:9092\" >> /x/server.properties"


class Done(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg", ""))
        self.result, self.failed = result, failed


def run(module, api, check=False, diff=False, **args):
    params = {"url": api.client.url, "password": PASSWORD, "cluster": CLUSTER, "_ansible_check_mode": check,
              "_ansible_diff": diff, **args}
    warnings = []

    def exit_json(self, **result):
        raise Done({**result, "warnings": warnings}, False)

    def fail_json(self, **result):
        raise Done({**result, "warnings": warnings}, True)

    with patch_module_args(params), mock.patch.object(AnsibleModule, "exit_json", exit_json), \
            mock.patch.object(AnsibleModule, "fail_json", fail_json), \
            mock.patch.object(AnsibleModule, "warn", lambda self, w: warnings.append(w)):
        with pytest.raises(Done) as done:
            module.main()
    return done.value.result if not done.value.failed else {**done.value.result, "failed": True}


@pytest.fixture(params=["2.7", "2.6"])
def any_api(request, tmp_path):
    with running_api(tmp_path, version=request.param) as api:
        api.set_state("STARTED")
        yield api


def request_count(api):
    return len(api.model.state["requests"])


def test_config_check_then_real_then_unchanged(any_api):
    api = any_api
    args = dict(config_type="kafka-broker", properties={"listeners": "PLAINTEXT://0.0.0.0:9092",
                                                        "auto.create.topics.enable": True})
    checked = run(ambari_config, api, check=True, diff=True, **args)
    assert checked["changed"] and checked["changed_properties"] == ["auto.create.topics.enable", "listeners"]
    assert sorted(c["host"] for c in checked["stale_components"]) == api.hosts  # predicted
    assert api.current("kafka-broker")[:2] == ("version1", 1)  # check mode wrote nothing
    real = run(ambari_config, api, diff=True, **args)
    assert real["changed"] and real["diff"] == checked["diff"]
    assert real["previous_version"] == 1 and real["version"] == 2 and real["tag"].startswith("ansible")
    assert sorted(c["host"] for c in real["stale_components"]) == api.hosts and real["restart_required"]
    tag, version, props = api.current("kafka-broker")
    assert (tag, version) == (real["tag"], 2) and props["auto.create.topics.enable"] == "true"
    again = run(ambari_config, api, **args)
    assert not again["changed"] and again["tag"] == tag
    assert api.current("kafka-broker")[:2] == (tag, 2)


def test_config_diff_masks_secrets(api):
    result = run(ambari_config, api, diff=True, config_type="kafka-broker",
                 properties={"ssl.keystore.password": "hunter2", "ssl.keystore.location": "/etc/ks.jks"})
    assert "hunter2" not in str(result)
    assert "ssl.keystore.password=********" in result["diff"]["after"]
    assert api.current("kafka-broker")[2]["ssl.keystore.password"] == "hunter2"  # stored for real


def test_config_block_added_once_and_updated_in_place(api):
    block = {"property": "content", "marker": "# {mark} advertise IPs", "block": SNIPPET}
    first = run(ambari_config, api, config_type="kafka-env", blocks=[block])
    assert first["changed"]
    content = api.current("kafka-env")[2]["content"]
    assert content.count("# BEGIN advertise IPs") == 1 and SNIPPET in content
    assert not run(ambari_config, api, config_type="kafka-env", blocks=[block])["changed"]
    updated = run(ambari_config, api, config_type="kafka-env", blocks=[{**block, "block": "echo v2"}])
    assert updated["changed"]
    content = api.current("kafka-env")[2]["content"]
    assert "echo v2" in content and SNIPPET not in content and content.count("# BEGIN advertise IPs") == 1
    removed = run(ambari_config, api, config_type="kafka-env", blocks=[{**block, "state": "absent"}])
    assert removed["changed"] and "advertise IPs" not in api.current("kafka-env")[2]["content"]


def test_config_group_overrides_only_its_hosts(any_api):
    api = any_api
    args = dict(config_type="kafka-broker", config_group="advertise-wn0", hosts=[api.hosts[0]],
                properties={"advertised.listeners": "PLAINTEXT://10.232.99.10:9092"})
    assert run(ambari_config, api, check=True, **args)["changed"]
    assert api.client.get(f"clusters/{CLUSTER}/config_groups")["items"] == []
    created = run(ambari_config, api, **args)
    assert created["changed"] and created["group_id"]
    assert [c["host"] for c in created["stale_components"]] == [api.hosts[0]]
    assert not run(ambari_config, api, **args)["changed"]
    moved = run(ambari_config, api, **{**args, "hosts": [api.hosts[0], api.hosts[1]]})
    assert moved["changed"] and moved["previous_hosts"] == [api.hosts[0]]
    info = run(ambari_cluster_info, api)
    advertised = {b["host_name"]: b["advertised_listeners"][0]["host"] for b in info["brokers"]}
    assert advertised == {api.hosts[0]: "10.232.99.10", api.hosts[1]: "10.232.99.10", api.hosts[2]: api.hosts[2]}


def test_26_gets_a_tag_and_the_change_is_applied(api26):
    result = run(ambari_config, api26, config_type="kafka-broker", properties={"num.io.threads": 16})
    assert result["changed"] and result["version"] == 2
    assert api26.current("kafka-broker")[2]["num.io.threads"] == "16"


def test_service_restarts_exactly_the_stale_ones(any_api):
    api = any_api
    run(ambari_config, api, config_type="kafka-broker", config_group="g", hosts=api.hosts[:2],
        properties={"num.io.threads": "4"})
    before = request_count(api)
    checked = run(ambari_service, api, check=True, wait_sleep=1)
    assert checked["changed"] and sorted(r["host"] for r in checked["restarted"]) == api.hosts[:2]
    assert request_count(api) == before and api.stale_hosts() == api.hosts[:2]
    real = run(ambari_service, api, wait_sleep=1)
    assert real["changed"] and real["request_status"] == "COMPLETED" and len(real["request_ids"]) == 1
    assert api.stale_hosts() == []
    after = request_count(api)
    again = run(ambari_service, api, wait_sleep=1)
    assert not again["changed"] and again["restarted"] == [] and request_count(api) == after


def test_rolling_restart_goes_host_by_host(started):
    api = started
    run(ambari_config, api, config_type="kafka-broker", properties={"num.io.threads": "4"})
    result = run(ambari_service, api, rolling=True, batch_separation=0, wait_sleep=1)
    assert result["changed"] and len(result["request_ids"]) == 3
    assert [[hc["host"] for hc in batch] for batch in result["batches"]] == [[h] for h in api.hosts]
    spans = []
    for request_id in result["request_ids"]:
        info = api.client.get(f"clusters/{CLUSTER}/requests/{request_id}?fields=Requests/*")["Requests"]
        spans.append((info["start_time"], info["end_time"]))
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    assert api.stale_hosts() == []


def test_failing_restart_reports_hosts_and_the_brokers_error(started):
    api = started
    run(ambari_config, api, config_type="kafka-broker", properties={"listeners": "PLAINTEXT://nohost::9092"})
    result = run(ambari_service, api, rolling=True, batch_separation=0, wait_sleep=1)
    assert result["failed"] and result["changed"]  # the first broker was stopped: said so
    assert f"{api.hosts[0]} KAFKA_BROKER FAILED" in result["msg"]
    assert "Error creating broker listeners from 'PLAINTEXT://nohost::9092'" in result["msg"]
    assert api.stale_hosts() == api.hosts  # the later brokers were not touched


def test_maintenance_hosts_are_skipped_and_said(started):
    api = started
    run(ambari_config, api, config_type="kafka-broker", properties={"num.io.threads": "4"})
    api.client.call("PUT", f"clusters/{CLUSTER}/hosts/{api.hosts[2]}", {"Hosts": {"maintenance_state": "ON"}})
    result = run(ambari_service, api, wait_sleep=1)
    assert [r["host"] for r in result["restarted"]] == api.hosts[:2]
    assert result["skipped"] == [{"host": api.hosts[2], "component": "KAFKA_BROKER"}]
    assert any("maintenance mode" in w and api.hosts[2] in w for w in result["warnings"])


def test_service_in_maintenance_is_still_acted_on_and_warned(started):
    api = started
    api.client.call("PUT", f"clusters/{CLUSTER}/services/KAFKA", {"ServiceInfo": {"maintenance_state": "ON"}})
    result = run(ambari_service, api, state="stopped", wait_sleep=1)
    assert result["changed"] and len(result["stopped"]) == 3
    assert any("Service KAFKA" in w and "maintenance mode" in w for w in result["warnings"])
    states = api.client.get(f"clusters/{CLUSTER}/host_components?fields=HostRoles/state")["items"]
    assert {i["HostRoles"]["state"] for i in states} == {"INSTALLED"}


def test_start_stop_components(started):
    api = started
    stopped = run(ambari_service, api, state="stopped", components=["KAFKA_BROKER"], wait_sleep=1)
    assert stopped["changed"] and stopped["request_status"] == "COMPLETED"
    assert not run(ambari_service, api, state="stopped", components=["KAFKA_BROKER"])["changed"]
    assert run(ambari_service, api, state="started", wait_sleep=1)["changed"]
    bad = run(ambari_service, api, state="started", components=["NOPE"])
    assert bad["failed"] and "has no component NOPE" in bad["msg"]


def test_cluster_info(api):
    info = run(ambari_cluster_info, api)
    assert info["cluster"] == CLUSTER and info["stack_version"] == "HDP-3.1"
    assert info["bootstrap_servers"] == "10.232.99.10:9092,10.232.99.11:9092,10.232.99.12:9092"
    assert info["brokers"][0]["listeners"] == [{"name": "PLAINTEXT", "host": api.hosts[0], "port": 9092}]
    assert info["zookeeper"] is None  # KRaft: no ZooKeeper service
    assert info["desired_configs"]["kafka-broker"] == {"tag": "version1", "version": 1}
    by_name = run(ambari_cluster_info, api, address="fqdn")
    assert by_name["bootstrap_servers"] == ",".join(f"{h}:9092" for h in api.hosts)
    assert info["http_requests"] <= 6


def test_cluster_is_discovered_when_the_server_has_one(api):
    result = run(ambari_cluster_info, api, cluster=None)
    assert result["cluster"] == CLUSTER


def test_wrong_password_is_named_clearly(api):
    result = run(ambari_config, api, password="wrong", config_type="kafka-broker")
    assert result["failed"] and result["status_code"] == 403
    assert result["msg"].startswith(f"Authentication or permission failed for user 'admin' at {api.client.url}")
    assert "wrong" not in result["msg"]


def test_gateway_401_is_the_same_message(tmp_path):
    with running_api(tmp_path, gateway=True) as api:
        result = run(ambari_service, api, password="wrong")
    assert result["failed"] and result["status_code"] == 401
    assert result["msg"].startswith("Authentication or permission failed for user 'admin'")


def test_unknown_cluster_and_service_are_named(api):
    result = run(ambari_config, api, cluster="nope", config_type="kafka-broker")
    assert result["failed"] and "Cluster not found, clusterName=nope" in result["msg"]
    result = run(ambari_service, api, service="HDFS")
    assert result["failed"] and "Service not found, clusterName=c1, serviceName=HDFS" in result["msg"]


def test_unreachable_url_names_the_host(api):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        result = run(ambari_cluster_info, api, url=f"http://127.0.0.1:{port}")
    assert result["failed"] and result["msg"].startswith(f"Cannot connect to Ambari at 127.0.0.1:{port}")
    assert "Traceback" not in result["msg"]


def test_tls_failure_names_the_host_and_ca_path_fixes_it(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with running_api(tmp_path, tls=context) as api:
        host = api.client.url.removeprefix("https://")
        failed = run(ambari_cluster_info, api)
        assert failed["failed"] and failed["msg"].startswith(f"TLS verification of Ambari at {host} failed")
        assert "ca_path" in failed["msg"]
        trusted = run(ambari_cluster_info, api, ca_path=str(cert))
        assert not trusted.get("failed") and trusted["cluster"] == CLUSTER
