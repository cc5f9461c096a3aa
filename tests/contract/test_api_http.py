"""Transport rules: auth, CSRF, bodies as text/plain, errors, fields and predicates (reference §1, §2)."""
from __future__ import annotations

import base64
import json

from kafka_lab.ambari.server import MAX_BODY_BYTES
from kafka_lab.client import AmbariClient

from .conftest import CLUSTER, PASSWORD, running_api


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


# --- content negotiation and the lab's own HTTP handling (issue 10) ---------------------------------------------

import os  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

@pytest.mark.parametrize("accept", ["application/json", "application/json, text/html", "text/plain;q=0",
                                    "text/html, application/*"])
def test_an_accept_without_text_plain_or_a_wildcard_is_406(api, accept):
    """apache/ambari release-2.6.2 and release-2.7.8: every resource service is @Produces("text/plain")
    (ambari-server/src/main/java/org/apache/ambari/server/api/services/ClusterService.java, RequestService.java, ...)
    under Jersey 1.19 (ambari-project/pom.xml), which answers 406 before any resource code runs; the body is
    written by api/AmbariErrorHandler.java with Gson."""
    resp = api.client.call("GET", f"clusters/{CLUSTER}", headers={"Accept": accept})
    assert resp.status == 406
    assert resp.text == '{\n  "status": 406,\n  "message": "Not Acceptable"\n}'
    assert resp.headers["Content-Type"] == "text/plain"


@pytest.mark.parametrize("accept", ["*/*", "text/plain", "text/*", "application/json, text/plain;q=0.5",
                                    "application/json;q=1, */*;q=0.1", ""])
def test_an_accept_that_admits_text_plain_is_served(api, accept):
    resp = api.client.call("GET", f"clusters/{CLUSTER}", headers={"Accept": accept})
    assert resp.status == 200 and resp.json()["Clusters"]["cluster_name"] == CLUSTER


def test_406_comes_after_authentication_csrf_and_routing(api):
    """Spring authenticates first, Jersey's request filters (CSRF) run before matching, matching before
    negotiation (apache/ambari release-2.7.8 controller/AmbariServer.java filter order, Jersey 1.19)."""
    json_only = {"Accept": "application/json"}
    assert AmbariClient(api.client.url, "admin", "wrong").call("GET", "clusters", headers=json_only).status == 403
    assert api.client.call("PUT", f"clusters/{CLUSTER}", {}, headers=json_only, csrf=False).status == 400
    assert api.client.call("GET", "nothing/here", headers=json_only).status == 404
    malformed = api.client.call("GET", "clusters", headers={"Accept": "text"})
    assert malformed.status == 400  # Jersey: "Bad Accept header"


def _raw(api, request: bytes) -> bytes:
    """Send raw bytes; read until the server closes the connection (a guard timeout only for a broken server)."""
    port = int(api.client.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def test_credentials_are_checked_before_the_body_is_read(api):
    """An unauthenticated client announcing 50 MB gets its 403 without sending a byte of it."""
    answer = _raw(api, b"PUT /api/v1/clusters/c1 HTTP/1.1\r\nHost: x\r\nX-Requested-By: t\r\n"
                       b"Content-Length: 50000000\r\n\r\n")
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 403") and b"Connection: close" in head


def test_a_body_beyond_the_bound_is_413_unread(api):
    token = base64.b64encode(f"admin:{PASSWORD}".encode())
    answer = _raw(api, b"PUT /api/v1/clusters/c1 HTTP/1.1\r\nHost: x\r\nX-Requested-By: t\r\nAuthorization: Basic "
                  + token + b"\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1))
    assert answer.startswith(b"HTTP/1.1 413") and b'"message": "Payload Too Large"' in answer


@pytest.mark.parametrize("value", [b"abc", b"-5", b"12, 13"])
def test_a_bad_content_length_is_400_and_the_server_keeps_serving(api, value):
    """Jetty 9.4 HttpParser: BadMessageException(400, "Invalid Content-Length Value"), its HTML error page."""
    answer = _raw(api, b"GET /api/v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert answer.endswith(b"<h1>Bad Message 400</h1><pre>reason: Invalid Content-Length Value</pre>")
    assert b"Traceback" not in answer
    assert api.client.call("GET", "clusters").status == 200


def test_a_chunked_body_is_read(api):
    token = base64.b64encode(f"admin:{PASSWORD}".encode())
    body = json.dumps({"ServiceInfo": {"maintenance_state": "ON"}}).encode()
    answer = _raw(api, b"PUT /api/v1/clusters/c1/services/KAFKA HTTP/1.1\r\nHost: x\r\nX-Requested-By: t\r\n"
                       b"Connection: close\r\nAuthorization: Basic " + token + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200")
    assert api.client.get(f"clusters/{CLUSTER}/services/KAFKA")["ServiceInfo"]["maintenance_state"] == "ON"


def test_state_json_is_written_0600(api):
    api.put_config("kafka-broker", {**api.current("kafka-broker")[2], "ssl.keystore.password": "pw"}, tag="t2")
    assert stat.S_IMODE(os.stat(api.state_path).st_mode) == 0o600


# --- second review of issue 10: slow clients, bounded connections, the state file's mode -------------------------


def _port(api) -> int:
    return int(api.client.url.rsplit(":", 1)[1])


def test_a_client_that_stops_sending_its_headers_is_dropped_after_the_timeout(tmp_path):
    """Jetty's idle timeout: an unauthenticated client sending half a request does not hold a thread for ever."""
    with running_api(tmp_path, timeout=0.5) as api:
        with socket.create_connection(("127.0.0.1", _port(api)), timeout=10) as sock:
            sock.sendall(b"GET /api/v1/clusters HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            assert sock.recv(65536) == b""  # closed by the server, well before the guard timeout
        assert api.client.call("GET", "clusters").status == 200


def test_a_body_shorter_than_its_content_length_ends_in_408(tmp_path):
    with running_api(tmp_path, timeout=0.5) as api:
        token = base64.b64encode(f"admin:{PASSWORD}".encode())
        with socket.create_connection(("127.0.0.1", _port(api)), timeout=10) as sock:
            sock.sendall(b"PUT /api/v1/clusters/c1 HTTP/1.1\r\nHost: x\r\nX-Requested-By: t\r\nAuthorization: Basic "
                         + token + b"\r\nContent-Length: 100\r\n\r\n{\"Clusters\"")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0]
        assert head.startswith(b"HTTP/1.1 408") and b"Connection: close" in head
        assert b'"message": "Request Timeout"' in answer
        assert api.client.call("GET", "clusters").status == 200


def test_connections_beyond_the_bound_get_503_and_slots_come_back(tmp_path):
    with running_api(tmp_path, timeout=5, max_connections=2) as api:
        idle = [socket.create_connection(("127.0.0.1", _port(api)), timeout=10) for _ in range(2)]
        try:
            time.sleep(0.3)  # both accepted, each holding a thread
            answer = _raw(api, b"GET /api/v1/clusters HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 503")
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 5
        while api.client.call("GET", "clusters").status != 200:  # the idle threads end on the closed sockets
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_state_json_is_0600_before_a_byte_is_written_even_over_a_leftover_tmp(api, monkeypatch):
    tmp = api.state_path.with_suffix(".tmp")
    tmp.write_text("{}")
    tmp.chmod(0o644)  # left by an older lab, or a crash between write and rename
    modes = []
    real_dumps = json.dumps

    def dumps(*args, **kwargs):
        modes.append(stat.S_IMODE(os.stat(tmp).st_mode))
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(json, "dumps", dumps)
    api.model.save()
    assert modes and set(modes) == {0o600}
    assert stat.S_IMODE(os.stat(api.state_path).st_mode) == 0o600 and not tmp.exists()
