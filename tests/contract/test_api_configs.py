"""Config versions, tags, service config versions, config groups and stale flags (reference §3-§7)."""
from __future__ import annotations

import pytest

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


# --- password properties (reference §15.4) ---------------------------------------------------------------
# apache/ambari release-2.6.2 and release-2.7.8, ambari-server/src/main/java/org/apache/ambari/server/:
#   controller/ConfigurationResponse.java: every configuration answered goes through
#     SecretReference.replacePasswordsWithReferences (stack PASSWORD types) and
#     replacePasswordsWithReferencesForCustomProperties (every key under the `password` attribute);
#   utils/SecretReference.java: the stub is SECRET:<type>:<version>:<name>; empty values are left alone;
#   controller/AmbariManagementControllerImpl.java updateCluster / createConfiguration: a reference in a write is
#     replaced by the stored value it points at (stack PASSWORD types, or `password` attribute "true" in the
#     request), before the no-op comparison;
#   controller/internal/ConfigGroupResourceProvider.java createConfigGroups: no such replacement.
# Stack PASSWORD types of KAFKA: common-services/KAFKA/0.9.0/configuration/ranger-kafka-policymgr-ssl.xml,
# ranger-kafka-plugin-properties.xml, stacks/HDP/2.6/services/KAFKA/configuration/ranger-kafka-plugin-properties.xml;
# none in kafka-broker or kafka-env.

PW = {"password": {"ssl.keystore.password": "true"}}


@pytest.fixture(params=["2.7", "2.6"])
def either(request, tmp_path):
    with running_api(tmp_path, version=request.param) as api:
        yield api


def _stored(api, config_type):
    return api.model.config(config_type, api.model.state["desired"][config_type]["tag"])["properties"]


def test_password_attribute_values_come_back_as_references(either):
    api = either
    _, _, props = api.current("kafka-broker")
    resp = api.put_config("kafka-broker", {**props, "ssl.keystore.password": "hunter2", "ssl.key.password": ""},
                          tag="t2", properties_attributes={"password": {"ssl.keystore.password": "true",
                                                                         "ssl.key.password": "true"}})
    assert resp.status == 200 and "hunter2" not in resp.text
    put_configs = resp.json()["resources"][0]["configurations"][0]["configs"]
    assert put_configs["ssl.keystore.password"] == "SECRET:kafka-broker:2:ssl.keystore.password"
    _, _, shown = api.current("kafka-broker")
    assert shown["ssl.keystore.password"] == "SECRET:kafka-broker:2:ssl.keystore.password"
    assert shown["ssl.key.password"] == ""  # empty values are not replaced
    listed = api.client.call("GET", f"clusters/{CLUSTER}/configurations?type=kafka-broker&fields=properties")
    scvs = api.client.call("GET", f"clusters/{CLUSTER}/configurations/service_config_versions?service_name=KAFKA")
    assert "hunter2" not in listed.text and "hunter2" not in scvs.text
    assert _stored(api, "kafka-broker")["ssl.keystore.password"] == "hunter2"


def test_a_password_attribute_of_any_value_hides_but_only_true_resolves(api):
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "x.password": "hunter2"}, tag="t2",
                   properties_attributes={"password": {"x.password": "false"}})
    _, _, shown = api.current("kafka-broker")
    assert shown["x.password"] == "SECRET:kafka-broker:2:x.password"  # keySet: hidden anyway
    api.put_config("kafka-broker", {**shown, "num.io.threads": "9"}, tag="t3",
                   properties_attributes={"password": {"x.password": "false"}})
    assert _stored(api, "kafka-broker")["x.password"] == "SECRET:kafka-broker:2:x.password"  # stored as text


def test_a_write_carrying_references_keeps_the_stored_secrets(either):
    api = either
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "ssl.keystore.password": "hunter2"}, tag="t2", properties_attributes=PW)
    _, _, shown = api.current("kafka-broker")
    same = api.put_config("kafka-broker", shown, tag="t3", properties_attributes=PW)
    assert (same.status, same.text) == (200, "")  # resolved, then identical: a silent no-op
    equal_plain = api.put_config("kafka-broker", {**shown, "ssl.keystore.password": "hunter2"}, tag="t3",
                                 properties_attributes=PW)
    assert (equal_plain.status, equal_plain.text) == (200, "")  # Ambari compares the plaintext with what it holds
    changed = api.put_config("kafka-broker", {**shown, "num.io.threads": "9"}, tag="t4", properties_attributes=PW)
    assert changed.status == 200 and api.current("kafka-broker")[:2] == ("t4", 3)
    assert _stored(api, "kafka-broker")["ssl.keystore.password"] == "hunter2"
    assert api.current("kafka-broker")[2]["ssl.keystore.password"] == "SECRET:kafka-broker:3:ssl.keystore.password"
    new_plain = api.put_config("kafka-broker", {**shown, "ssl.keystore.password": "rotated"}, tag="t5",
                               properties_attributes=PW)
    assert new_plain.status == 200 and _stored(api, "kafka-broker")["ssl.keystore.password"] == "rotated"


def test_stack_password_types_need_no_attribute(either):
    api = either
    resp = api.put_config("ranger-kafka-policymgr-ssl", {"xasecure.policymgr.clientssl.keystore.password": "ks",
                                                         "xasecure.policymgr.clientssl.keystore": "/etc/ks.jks"},
                          tag="r1")
    assert resp.status == 200
    _, version, shown = api.current("ranger-kafka-policymgr-ssl")
    assert shown == {"xasecure.policymgr.clientssl.keystore.password":
                     f"SECRET:ranger-kafka-policymgr-ssl:{version}:xasecure.policymgr.clientssl.keystore.password",
                     "xasecure.policymgr.clientssl.keystore": "/etc/ks.jks"}
    assert (api.put_config("ranger-kafka-policymgr-ssl", shown, tag="r2").text) == ""  # resolved: no-op
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "ssl.keystore.password": "plain"}, tag="t2")
    assert api.current("kafka-broker")[2]["ssl.keystore.password"] == "plain"  # kafka-broker: not a stack type


def test_a_reference_to_nothing_is_500(api):
    _, _, props = api.current("kafka-broker")
    resp = api.put_config("kafka-broker", {**props, "ssl.keystore.password": "SECRET:kafka-broker:99:x"}, tag="t2",
                          properties_attributes=PW)
    assert resp.status == 500
    assert resp.json()["message"] == ("An internal system exception occurred: Error when parsing secret reference. "
                                      f"Cluster: {CLUSTER} does not contain ConfigType: kafka-broker ConfigVersion: 99")
    resp = api.put_config("kafka-broker", {**props, "ssl.keystore.password": "SECRET:kafka-broker:1:nope"}, tag="t2",
                          properties_attributes=PW)
    assert resp.status == 500 and resp.json()["message"].endswith(
        "ConfigType: kafka-broker ConfigVersion: 1 does not contain property 'nope'")


def test_a_config_group_stores_a_reference_as_text(api):
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "ssl.keystore.password": "hunter2"}, tag="t2", properties_attributes=PW)
    ref = api.current("kafka-broker")[2]["ssl.keystore.password"]
    body = _group(api, props={"ssl.keystore.password": ref})
    assert api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [body]).status == 201
    assert api.model.effective_configs(api.hosts[0])["kafka-broker"]["ssl.keystore.password"] == ref


# --- config group lookup (reference §15.6) -----------------------------------------------------------------
# apache/ambari release-2.6.2 and release-2.7.8, ambari-server/src/main/java/org/apache/ambari/server/controller/
# internal/ConfigGroupResourceProvider.java: getConfigGroups looks a request up by id, else by group name alone
# (the tag is not looked at), else by tag, else by host; evaluate() returns true, so ClusterControllerImpl filters
# nothing afterwards. The predicate reaches it as property maps of its equalities (AbstractResourceProvider.
# getPropertyMaps, SimplifyingPredicateVisitor: one map per OR branch, other comparisons dropped).


def _names(api, query):
    items = api.client.get(f"clusters/{CLUSTER}/config_groups?{query}&fields=ConfigGroup/group_name,ConfigGroup/tag")
    return sorted((i["ConfigGroup"]["group_name"], i["ConfigGroup"]["tag"]) for i in items["items"])


def test_config_groups_are_looked_up_by_name_whatever_the_tag(either):
    api = either
    for name, tag, host in (("adv", "HDFS", 0), ("adv", "KAFKA", 0), ("other", "KAFKA", 1)):
        body = {"ConfigGroup": {"cluster_name": CLUSTER, "group_name": name, "tag": tag,
                                "hosts": [{"host_name": api.hosts[host]}], "desired_configs": []}}
        assert api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [body]).status == 201
    assert _names(api, "ConfigGroup/group_name=adv&ConfigGroup/tag=KAFKA") == [("adv", "HDFS"), ("adv", "KAFKA")]
    assert _names(api, "ConfigGroup/tag=KAFKA") == [("adv", "KAFKA"), ("other", "KAFKA")]  # tag alone: looked at
    assert _names(api, "ConfigGroup/tag=KAFKA&ConfigGroup/hosts/host_name=" + api.hosts[1]) == [("other", "KAFKA")]
    assert _names(api, "ConfigGroup/group_name=other|ConfigGroup/group_name=adv") == [
        ("adv", "HDFS"), ("adv", "KAFKA"), ("other", "KAFKA")]
    assert len(_names(api, "ConfigGroup/description=nothing-has-this")) == 3  # no key: all groups
    assert len(_names(api, "ConfigGroup/tag!=KAFKA")) == 3  # not an equality: dropped, all groups


def test_a_type_no_service_has_is_created_by_a_put(started):
    """A misspelt type is not refused: AmbariManagementControllerImpl.updateCluster needs a new config when the
    cluster has no config of that type, createConfiguration takes any type (the stack's defaults merge in only
    where the stack has some), and a type no service owns gets no service config version (ClusterImpl.
    addDesiredConfig) -- apache/ambari release-2.6.2 and release-2.7.8. So ambari_config checks the type itself."""
    api = started
    resp = api.put_config("kafka-brokr", {"listeners": "PLAINTEXT://0.0.0.0:9092"}, tag="typo1")
    assert (resp.status, resp.text) == (200, "")
    assert api.current("kafka-brokr") == ("typo1", 1, {"listeners": "PLAINTEXT://0.0.0.0:9092"})
    assert api.stale_hosts() == []


def test_a_config_group_of_a_service_the_cluster_lacks_is_500_on_27_only(either):
    """apache/ambari release-2.7.8 ConfigGroupImpl.persistConfigMapping creates a config the group brings through
    cluster.getService(serviceName): ServiceNotFoundException ("Service not found, clusterName=.., serviceName=..")
    becomes a SystemException in AbstractResourceProvider.createResources: 500 "An internal system exception
    occurred: ...". The group is not added to the cluster (ConfigGroupResourceProvider.createConfigGroups never
    reaches cluster.addConfigGroup). release-2.6.2's persistConfigMapping uses cluster.getServices().get(name) and
    falls back to the cluster's stack: 201. A group bringing no new config never looks the service up: 201 on both."""
    api = either
    body = _group(api, name="hdfs-wn0", tag="HDFS")
    body["ConfigGroup"]["service_name"] = "HDFS"
    resp = api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [body])
    if api.model.ambari_version == "2.6":
        assert resp.status == 201 and len(api.model.state["config_groups"]) == 1
    else:
        assert (resp.status, resp.json()["message"]) == (
            500, f"An internal system exception occurred: Service not found, clusterName={CLUSTER}, serviceName=HDFS")
        assert api.model.state["config_groups"] == {} and api.model.config("kafka-broker", "g1") is None
    empty = {"ConfigGroup": {**body["ConfigGroup"], "group_name": "hdfs-empty", "hosts": [], "desired_configs": []}}
    assert api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [empty]).status == 201
