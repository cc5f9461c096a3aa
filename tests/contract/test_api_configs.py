"""Config versions, tags, service config versions, config groups and stale flags (reference §3-§7)."""
from __future__ import annotations

from .conftest import CLUSTER, running_api


def test_seeded_like_hdinsight(api):
    tag, version, props = api.current("kafka-broker")
    assert (tag, version) == ("version1", 1)
    assert props["listeners"] == "PLAINTEXT://localhost:9092"
    assert props["auto.create.topics.enable"] == "false"
    assert "{{java64_home}}" in api.current("kafka-env")[2]["content"]


def test_configurations_by_type_lists_versions_without_properties(api):
    api.put_config("kafka-broker", {**api.current("kafka-broker")[2], "num.io.threads": "9"}, tag="t2")
    items = api.client.get(f"clusters/{CLUSTER}/configurations?type=kafka-broker")["items"]
    assert [(i["tag"], i["version"]) for i in items] == [("version1", 1), ("t2", 2)]
    assert all("properties" not in i for i in items)
    with_props = api.client.get(f"clusters/{CLUSTER}/configurations?type=kafka-broker&fields=properties")["items"]
    assert with_props[1]["properties"]["num.io.threads"] == "9"
    assert items[1]["href"].endswith("/configurations?type=kafka-broker&tag=t2")


def test_unknown_tag_is_200_with_no_items(api):
    body = api.client.get(f"clusters/{CLUSTER}/configurations?type=kafka-broker&tag=nope")
    assert body["items"] == []


def test_change_creates_next_version_and_one_scv(api):
    _, _, props = api.current("kafka-broker")
    resp = api.put_config("kafka-broker", {**props, "num.io.threads": 9}, tag="t2", note="more io threads")
    assert resp.status == 200
    scv = resp.json()["resources"][0]
    assert scv["service_name"] == "KAFKA" and scv["group_id"] == -1 and scv["group_name"] == "Default"
    assert scv["service_config_version"] == 2
    assert scv["service_config_version_note"] == "more io threads"
    assert scv["configurations"][0]["type"] == "kafka-broker" and scv["configurations"][0]["versionTag"] == "t2"
    tag, version, new = api.current("kafka-broker")
    assert (tag, version) == ("t2", 2)
    assert new["num.io.threads"] == "9"  # every scalar is stored as a string


def test_identical_content_is_a_silent_noop_even_with_a_new_tag(api):
    _, _, props = api.current("kafka-broker")
    resp = api.put_config("kafka-broker", props, tag="brand-new-tag")
    assert (resp.status, resp.text) == (200, "")
    assert api.current("kafka-broker")[:2] == ("version1", 1)
    versions = api.client.get(f"clusters/{CLUSTER}/configurations?type=kafka-broker")["items"]
    assert len(versions) == 1


def test_reused_tag_with_new_content_is_500(api):
    _, _, props = api.current("kafka-broker")
    resp = api.put_config("kafka-broker", {**props, "num.io.threads": "9"}, tag="version1")
    assert resp.status == 500
    assert resp.json()["message"] == ("An internal system exception occurred: "
                                      "Configuration with tag 'version1' exists for 'kafka-broker'")


def test_missing_tag_gets_a_uuid_on_27(api):
    _, _, props = api.current("kafka-broker")
    assert api.put_config("kafka-broker", {**props, "num.io.threads": "9"}).status == 200
    tag, version, _ = api.current("kafka-broker")
    assert version == 2 and len(tag) == 36


def test_missing_tag_is_not_applied_on_26(api26):
    _, _, props = api26.current("kafka-broker")
    assert api26.put_config("kafka-broker", {**props, "num.io.threads": "9"}).status == 200
    tag, version, applied = api26.current("kafka-broker")
    assert (tag, version) == ("version1", 1) and applied["num.io.threads"] == "8"


def test_26_desired_configs_name_the_user(api26):
    desired = api26.client.get(f"clusters/{CLUSTER}?fields=Clusters/desired_configs")["Clusters"]["desired_configs"]
    assert desired["kafka-broker"] == {"tag": "version1", "version": 1, "user": "admin"}


def test_attributes_count_as_content(api):
    _, _, props = api.current("kafka-broker")
    resp = api.put_config("kafka-broker", props, tag="t2", properties_attributes={"final": {"log.dirs": "true"}})
    assert resp.status == 200 and api.current("kafka-broker")[0] == "t2"


def test_scv_snapshots_every_type_of_the_service(api):
    _, _, props = api.current("kafka-env")
    api.put_config("kafka-env", {**props, "kafka_user_nofile_limit": "200000"}, tag="env2")
    items = api.client.get(f"clusters/{CLUSTER}/configurations/service_config_versions"
                           "?service_name=KAFKA&is_current=true")["items"]
    assert len(items) == 1
    scv = items[0]
    assert scv["service_config_version"] == 2 and scv["is_current"] is True
    assert {c["type"]: c["tag"] for c in scv["configurations"]} == {
        "kafka-broker": "version1", "kafka-env": "env2", "kafka-log4j": "version1"}


def test_rollback_creates_a_new_scv_pointing_at_old_configs(api):
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "num.io.threads": "9"}, tag="t2")
    resp = api.client.call("PUT", f"clusters/{CLUSTER}", {"Clusters": {"desired_service_config_versions": {
        "service_name": "KAFKA", "service_config_version": 1, "service_config_version_note": "rollback"}}})
    assert resp.status == 200
    assert resp.json()["resources"][0]["service_config_version"] == 3
    assert api.current("kafka-broker")[0] == "version1"


def test_config_change_marks_all_brokers_stale_and_restart_clears_it(started):
    api = started
    assert api.stale_hosts() == []
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "num.io.threads": "9"}, tag="t2")
    assert api.stale_hosts() == api.hosts
    resp = api.restart([api.hosts[0]], {"level": "SERVICE", "cluster_name": CLUSTER, "service_name": "KAFKA"})
    assert resp.status == 202
    api.client.wait_request(CLUSTER, resp.json()["Requests"]["id"], 30)
    assert api.stale_hosts() == api.hosts[1:]


def test_cluster_env_change_marks_nothing_stale(started):
    api = started
    _, _, props = api.current("cluster-env")
    resp = api.put_config("cluster-env", {**props, "security_enabled": "false", "new": "x"}, tag="ce2")
    assert (resp.status, resp.text) == (200, "")  # no service owns cluster-env: no SCV in the body
    assert api.stale_hosts() == []


def test_stop_does_not_clear_stale(started):
    api = started
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "num.io.threads": "9"}, tag="t2")
    api.set_state("INSTALLED")
    assert api.stale_hosts() == api.hosts
    api.set_state("STARTED")
    assert api.stale_hosts() == []


def _group(api, name="ip-advertise", hosts=None, tag="KAFKA", props=None, override_tag="g1"):
    return {"ConfigGroup": {"cluster_name": CLUSTER, "group_name": name, "tag": tag, "service_name": "KAFKA",
                            "description": "per-host listeners",
                            "hosts": [{"host_name": h} for h in (hosts or [api.hosts[0]])],
                            "desired_configs": [{"type": "kafka-broker", "tag": override_tag,
                                                 "properties": props or {"advertised.listeners": "PLAINTEXT://10.0.0.1:9092"}}]}}


def test_config_group_overrides_one_host_and_marks_only_it_stale(started):
    api = started
    resp = api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [_group(api)])
    assert resp.status == 201
    group_id = resp.json()["resources"][0]["ConfigGroup"]["id"]
    assert api.stale_hosts() == [api.hosts[0]]
    host = api.client.get(f"clusters/{CLUSTER}/hosts/{api.hosts[0]}?fields=Hosts/desired_configs")
    assert host["Hosts"]["desired_configs"]["kafka-broker"] == {"default": "version1", "overrides": {str(group_id): "g1"}}
    merged = api.model.effective_configs(api.hosts[0])["kafka-broker"]
    assert merged["advertised.listeners"] == "PLAINTEXT://10.0.0.1:9092" and merged["num.io.threads"] == "8"
    assert "advertised.listeners" not in api.model.effective_configs(api.hosts[1])["kafka-broker"]
    scvs = api.client.get(f"clusters/{CLUSTER}/configurations/service_config_versions"
                          "?service_name=KAFKA&is_current=true")["items"]
    assert sorted(s["group_name"] for s in scvs) == ["Default", "ip-advertise"]
    group = api.client.get(f"clusters/{CLUSTER}/config_groups/{group_id}")["ConfigGroup"]
    assert [h["host_name"] for h in group["hosts"]] == [api.hosts[0]]
    assert group["desired_configs"][0]["tag"] == "g1"


def test_config_group_conflicts_are_409_and_missing_fields_400(api):
    assert api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [_group(api)]).status == 201
    same_name = api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [_group(api, override_tag="g2")])
    assert same_name.status == 409
    same_host = api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [_group(api, name="other", override_tag="g3")])
    assert same_host.status == 409
    assert "Host is already associated with a config group" in same_host.json()["message"]
    missing = api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [{"ConfigGroup": {"cluster_name": CLUSTER}}])
    assert missing.status == 400
    assert missing.json()["message"] == "Cluster name, group name and tag need to be provided."


def test_config_group_update_and_delete(started):
    api = started
    group_id = api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [_group(api)]).json()["resources"][0][
        "ConfigGroup"]["id"]
    api.restart(api.hosts)
    body = _group(api, hosts=[api.hosts[1]], override_tag="g2", props={"num.io.threads": "4"})
    resp = api.client.call("PUT", f"clusters/{CLUSTER}/config_groups/{group_id}", body)
    assert resp.status == 200
    assert resp.json()["resources"][0]["ConfigGroup"]["version_tags"] == [{"kafka-broker": "g2"}]
    assert api.model.effective_configs(api.hosts[1])["kafka-broker"]["num.io.threads"] == "4"
    assert api.client.call("DELETE", f"clusters/{CLUSTER}/config_groups/{group_id}").status == 200
    assert api.client.call("GET", f"clusters/{CLUSTER}/config_groups/{group_id}").status == 404


def test_deleted_prefix_removes_a_property(api):
    body = _group(api, props={"DELETED_num.io.threads": ""})
    assert api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [body]).status == 201
    assert "num.io.threads" not in api.model.effective_configs(api.hosts[0])["kafka-broker"]


def test_state_survives_a_restart_of_the_server(tmp_path):
    with running_api(tmp_path) as api:
        _, _, props = api.current("kafka-broker")
        api.put_config("kafka-broker", {**props, "num.io.threads": "9"}, tag="t2")
    with running_api(tmp_path) as again:
        assert again.current("kafka-broker")[:2] == ("t2", 2)
        scvs = again.client.get(f"clusters/{CLUSTER}/configurations/service_config_versions?service_name=KAFKA")
        assert [s["service_config_version"] for s in scvs["items"]] == [1, 2]
