"""Transport rules: auth, CSRF, bodies as text/plain, errors, fields and predicates (reference §1, §2)."""
from __future__ import annotations

import json

from kafka_lab.client import AmbariClient

from .conftest import CLUSTER, running_api


def test_missing_credentials_get_403_missing_token(api):
    resp = api.client.call("GET", "clusters", auth=False)
    assert resp.status == 403
    assert resp.json() == {"status": 403, "message": "Missing authentication token"}


def test_wrong_password_gets_403_with_ambaris_message(api):
    bad = AmbariClient(api.client.url, "admin", "wrong")
    resp = bad.call("GET", "clusters")
    assert resp.status == 403
    assert resp.json()["message"] == "Unable to sign in. Invalid username/password combination."
    assert resp.headers["Content-Type"] == "text/plain"


def test_gateway_mode_answers_401(tmp_path):
    with running_api(tmp_path, gateway=True) as api:
        resp = AmbariClient(api.client.url, "admin", "wrong").call("GET", "clusters")
        assert resp.status == 401
        assert "WWW-Authenticate" in resp.headers


def test_write_without_x_requested_by_is_400_after_auth(api):
    resp = api.client.call("PUT", f"clusters/{CLUSTER}", {"Clusters": {}}, csrf=False)
    assert resp.status == 400
    assert resp.json() == {"status": 400,
                           "message": "CSRF protection is turned on. X-Requested-By HTTP header is required."}
    bad = AmbariClient(api.client.url, "admin", "wrong").call("PUT", f"clusters/{CLUSTER}", {}, csrf=False)
    assert bad.status == 403  # authentication is checked first


def test_json_is_served_as_text_plain_with_jackson_spacing(api):
    resp = api.client.call("GET", f"clusters/{CLUSTER}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain"
    assert '"cluster_name" : "c1"' in resp.text
    assert resp.json()["href"].endswith(f"/api/v1/clusters/{CLUSTER}")


def test_collection_without_fields_has_keys_only_in_27(api):
    items = api.client.get("clusters")["items"]
    assert items == [{"href": f"{api.client.url}/api/v1/clusters/{CLUSTER}", "Clusters": {"cluster_name": CLUSTER}}]


def test_ambari_26_always_returns_the_stack_version(api26):
    items = api26.client.get("clusters")["items"]
    assert items[0]["Clusters"] == {"cluster_name": CLUSTER, "version": "HDP-2.6"}


def test_unknown_cluster_service_host_are_404_with_ambaris_messages(api):
    cases = {
        "clusters/nope": "Cluster not found, clusterName=nope",
        f"clusters/{CLUSTER}/services/HDFS": f"Service not found, clusterName={CLUSTER}, serviceName=HDFS",
        f"clusters/{CLUSTER}/hosts/wn9": "Host not found, hostname=wn9",
    }
    for path, message in cases.items():
        resp = api.client.call("GET", path)
        assert resp.status == 404, path
        assert resp.json() == {"status": 404, "message": f"The requested resource doesn't exist: {message}"}


def test_top_level_href_keeps_the_decoded_query(api):
    body = api.client.get(f"clusters/{CLUSTER}/hosts?fields=Hosts/ip&Hosts/host_name.in({api.hosts[0]})")
    assert body["href"].endswith(f"hosts?fields=Hosts/ip&Hosts/host_name.in({api.hosts[0]})")
    assert [i["Hosts"] for i in body["items"]] == [
        {"cluster_name": CLUSTER, "host_name": api.hosts[0], "ip": "10.232.99.10"}]


def test_predicates_or_not_and_no_match(api):
    hosts = api.hosts
    body = api.client.get(f"clusters/{CLUSTER}/hosts?Hosts/host_name={hosts[0]}|Hosts/host_name={hosts[2]}")
    assert [i["Hosts"]["host_name"] for i in body["items"]] == [hosts[0], hosts[2]]
    body = api.client.get(f"clusters/{CLUSTER}/hosts?!(Hosts/host_name={hosts[0]})&Hosts/ip!=10.232.99.11")
    assert [i["Hosts"]["host_name"] for i in body["items"]] == [hosts[2]]
    body = api.client.get(f"clusters/{CLUSTER}/hosts?Hosts/host_name=none")
    assert body["items"] == []


def test_sub_resource_predicate_on_hosts(api):
    api.put_config("kafka-broker", {**api.current("kafka-broker")[2], "num.io.threads": "9"}, tag="t2")
    body = api.client.get(f"clusters/{CLUSTER}/hosts?host_components/HostRoles/stale_configs=true")
    assert len(body["items"]) == 3


def test_unsupported_field_is_400(api):
    resp = api.client.call("GET", f"clusters/{CLUSTER}/hosts?fields=Hosts/nonsense")
    assert resp.status == 400
    assert resp.json()["message"] == ("The properties [Hosts/nonsense] specified in the request or predicate are "
                                      "not supported for the resource type Host.")


def test_bad_predicate_is_400(api):
    resp = api.client.call("GET", f"clusters/{CLUSTER}/hosts?Hosts/host_name.in(a")
    assert resp.status == 400
    assert resp.json()["message"].startswith("Unable to compile query predicate")


def test_malformed_body_is_400(api):
    resp = api.client.call("PUT", f"clusters/{CLUSTER}", "{not json")
    assert resp.status == 400
    assert "Malformed Request Body" in resp.json()["message"]


def test_fields_select_sub_resources(api):
    body = api.client.get(f"clusters/{CLUSTER}/services/KAFKA/components/KAFKA_BROKER"
                          "?fields=host_components/HostRoles/host_name")
    assert body["ServiceComponentInfo"] == {"cluster_name": CLUSTER, "service_name": "KAFKA",
                                            "component_name": "KAFKA_BROKER"}
    assert sorted(h["HostRoles"]["host_name"] for h in body["host_components"]) == api.hosts
    assert all(set(h["HostRoles"]) == {"cluster_name", "host_name", "component_name"} for h in body["host_components"])


def test_method_override_get_with_query_in_body(api):
    resp = api.client.call("POST", f"clusters/{CLUSTER}/hosts?fields=Hosts/ip",
                           {"RequestInfo": {"query": f"Hosts/host_name={api.hosts[1]}"}},
                           headers={"X-Http-Method-Override": "GET"})
    assert resp.status == 200
    assert [i["Hosts"]["ip"] for i in resp.json()["items"]] == ["10.232.99.11"]


def test_hosts_carry_ips_and_instance_lists_sub_resource_links(api):
    body = api.client.get(f"clusters/{CLUSTER}/hosts/{api.hosts[0]}")
    assert body["Hosts"]["ip"] == "10.232.99.10"
    assert body["host_components"] == [{
        "href": f"{api.client.url}/api/v1/clusters/{CLUSTER}/hosts/{api.hosts[0]}/host_components/KAFKA_BROKER",
        "HostRoles": {"cluster_name": CLUSTER, "component_name": "KAFKA_BROKER", "host_name": api.hosts[0]}}]


def test_error_bodies_never_carry_a_traceback(api):
    resp = api.client.call("PUT", f"clusters/{CLUSTER}", json.dumps([1, 2]))
    assert resp.status == 400
    assert "Traceback" not in resp.text
