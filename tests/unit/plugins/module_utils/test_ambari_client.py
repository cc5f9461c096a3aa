"""The client's reading of answers: JSON sent as text/plain, non-JSON bodies, Ambari's error messages."""
from __future__ import annotations

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import AmbariClient, AmbariError


def client():
    return AmbariClient("https://gw.example.invalid/", "admin", "pw")  # no I/O in the constructor


def test_json_is_parsed_whatever_the_content_type_and_empty_is_none():
    assert client()._parse("GET", "clusters", 200, b'{"items" : [ ]}') == {"items": []}
    assert client()._parse("PUT", "clusters/c", 200, b"") is None


def test_non_json_body_is_reported_with_its_first_bytes():
    with pytest.raises(AmbariError) as err:
        client()._parse("GET", "clusters", 200, b"<html><body>Gateway login page</body></html>" + b"x" * 500)
    assert err.value.msg.startswith("Ambari at gw.example.invalid answered GET clusters (HTTP 200) with a body that "
                                    "is not JSON: '<html><body>Gateway login page")
    assert "Check that url is the Ambari server's address" in err.value.msg and len(err.value.msg) < 400


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_name_user_and_url(status):
    error = client()._http_error("GET", "clusters", status, '{"status": 403, "message": "Unable to sign in."}')
    assert error.msg == (f"Authentication or permission failed for user 'admin' at https://gw.example.invalid "
                         f"(HTTP {status}: Unable to sign in.)")
    assert error.details["status_code"] == status


def test_other_errors_carry_ambaris_message_or_the_first_bytes():
    error = client()._http_error("PUT", "clusters/c", 500, '{"status" : 500, "message" : "An internal system '
                                                          'exception occurred: Configuration with tag \'x\' exists"}')
    assert "HTTP 500: An internal system exception occurred: Configuration with tag 'x' exists" in error.msg
    assert "HTTP 502: '<html>bad gateway</html>'" in client()._http_error("GET", "x", 502, "<html>bad gateway</html>").msg


# --- transport: Accept, redirects, retries, answers of the wrong shape (issue 10) -------------------------------

import json  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils import _ambari as ambari  # noqa: E402
from kafka_lab.ambari.errors import ApiError  # noqa: E402
from kafka_lab.ambari.server import negotiate  # noqa: E402

from ..stub_http import Reply, Stub, serving  # noqa: E402

OK = Reply(200, b'{"items" : [ ]}')


def stub_client(url, sleeps=None, timeout=30):
    return AmbariClient(url, "admin", "pw", timeout=timeout,
                        sleep=(sleeps.append if sleeps is not None else lambda s: None))


def test_accept_admits_text_plain_as_jersey_requires():
    """Every resource is @Produces("text/plain") (apache/ambari release-2.6.2 and release-2.7.8
    ambari-server/src/main/java/org/apache/ambari/server/api/services/ClusterService.java) under Jersey 1.19
    (ambari-project/pom.xml): an Accept without text/plain or a wildcard is answered 406."""
    with serving(Stub([OK])) as stub:
        stub_client(stub.url).get("clusters")
    accept = stub.seen[0].headers["Accept"]
    negotiate(accept)  # the lab's Jersey rule lets it through
    with pytest.raises(ApiError) as refused:
        negotiate("application/json")  # what the client sent before
    assert refused.value.status == 406


def test_redirect_to_another_origin_is_not_followed_and_names_where_it_pointed():
    with serving(Stub([OK])) as other, serving(Stub([Reply(302, headers={
            "Location": other.url + "/api/v1/clusters"})])) as ambari_stub:
        with pytest.raises(AmbariError) as err:
            stub_client(ambari_stub.url).get("clusters")
    assert other.seen == []  # the credentials never reached the other origin
    msg = err.value.msg
    assert f"redirected GET clusters (HTTP 302) to {other.url}/api/v1/clusters" in msg
    assert "another origin" in msg and f"set url to {other.url}" in msg
    assert err.value.details["location"] == other.url + "/api/v1/clusters"


def test_redirect_from_http_to_https_on_the_same_host_is_another_origin():
    https = "https://127.0.0.1:8443/api/v1/clusters"
    with serving(Stub([Reply(301, headers={"Location": https})])) as stub:
        with pytest.raises(AmbariError) as err:
            stub_client(stub.url).get("clusters")
    assert "set url to https://127.0.0.1:8443" in err.value.msg and len(stub.seen) == 1


def test_same_origin_redirect_of_a_read_is_followed_with_credentials():
    with serving(Stub([Reply(302, headers={"Location": "/api/v1/clusters?moved"}), OK])) as stub:
        assert stub_client(stub.url).get("clusters") == {"items": []}
    assert [s.path for s in stub.seen] == ["/api/v1/clusters", "/api/v1/clusters?moved"]
    assert all(s.headers["Authorization"].startswith("Basic ") for s in stub.seen)


def test_a_write_is_never_re_sent_to_a_redirect_target():
    with serving(Stub([Reply(307, headers={"Location": "/api/v1/elsewhere"}), OK])) as stub:
        with pytest.raises(AmbariError) as err:
            stub_client(stub.url).put("clusters/c1", {"Clusters": {}})
    assert "a write is not re-sent" in err.value.msg and len(stub.seen) == 1


def test_too_many_redirects_end_in_a_message():
    with serving(Stub([Reply(302, headers={"Location": "/api/v1/loop"})])) as stub:
        with pytest.raises(AmbariError) as err:
            stub_client(stub.url).get("clusters")
    assert f"more than {ambari.MAX_REDIRECTS} times" in err.value.msg
    assert len(stub.seen) == ambari.MAX_REDIRECTS + 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_429_is_retried_with_jittered_bounded_delays(method):
    sleeps = []
    busy = Reply(429, b'{"message": "Rate limit is exceeded."}')
    with serving(Stub([busy, busy, OK])) as stub:
        status, data = stub_client(stub.url, sleeps).call(method, "clusters", None if method == "GET" else {})
    assert (status, data) == (200, {"items": []}) and len(stub.seen) == 3
    assert len(sleeps) == 2 and all(0 <= s < ambari.RETRY_DELAY_MAX_S for s in sleeps)


def test_429_honours_retry_after_and_gives_up_after_bounded_attempts():
    sleeps = []
    with serving(Stub([Reply(429, b"busy", {"Retry-After": "7"})])) as stub:
        with pytest.raises(AmbariError) as err:
            stub_client(stub.url, sleeps, timeout=300).get("clusters")  # the attempts end first, not the time
    assert len(stub.seen) == ambari.RATE_LIMIT_ATTEMPTS and len(sleeps) == ambari.RATE_LIMIT_ATTEMPTS - 1
    assert all(7 <= s <= ambari.RETRY_DELAY_MAX_S for s in sleeps)
    assert "HTTP 429" in err.value.msg and "try again later" in err.value.msg
    assert err.value.details["status_code"] == 429


def test_5xx_is_retried_for_reads_only():
    sleeps = []
    with serving(Stub([Reply(503, b"down")])) as stub:
        with pytest.raises(AmbariError):
            stub_client(stub.url, sleeps).get("clusters")
    assert len(stub.seen) == ambari.READ_ATTEMPTS
    with serving(Stub([Reply(500, b'{"status": 500, "message": "boom"}')])) as stub:
        with pytest.raises(AmbariError) as err:
            stub_client(stub.url, sleeps).post("clusters/c1/requests", {})
    assert len(stub.seen) == 1 and "HTTP 500: boom" in err.value.msg


def test_tls_verification_failure_is_never_retried(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(AmbariError) as err:
            stub_client("https://127.0.0.1:%d" % listener.getsockname()[1]).get("clusters")
    finally:
        listener.close()
    assert err.value.msg.startswith("TLS verification of Ambari at 127.0.0.1:") and "ca_path" in err.value.msg
    assert len(accepted) == 1


@pytest.mark.parametrize("body, shape", [(b"[1, 2]", "a JSON list"), (b"", "an empty body"), (b'"ok"', "a JSON string")])
def test_a_read_answered_with_something_else_than_an_object_is_named(body, shape):
    with serving(Stub([Reply(200, body)])) as stub:
        with pytest.raises(AmbariError) as err:
            stub_client(stub.url).get("clusters")
    assert f"answered GET clusters with {shape} where a JSON object was expected" in err.value.msg
    assert "Check that url is the Ambari server's address" in err.value.msg


def test_a_missing_field_names_the_call_and_the_field():
    with serving(Stub([Reply(200, json.dumps({"status": "ok", "Nested": {"a": 1}}).encode())])) as stub:
        data = stub_client(stub.url).get("clusters/c1/requests/5")
    with pytest.raises(AmbariError) as err:
        data["Requests"]
    assert "(GET clusters/c1/requests/5) answered without the field 'Requests' (it has: Nested, status)" in err.value.msg
    with pytest.raises(AmbariError) as err:
        data["Nested"]["request_status"]
    assert "without the field 'request_status'" in err.value.msg
    assert data.get("Requests") is None  # .get stays a plain lookup


def test_an_answer_beyond_the_bound_is_refused():
    with serving(Stub([Reply(200, b"[" + b"0," * (ambari.MAX_ANSWER_BYTES // 2) + b"0]")])) as stub:
        with pytest.raises(AmbariError) as err:
            stub_client(stub.url).get("clusters")
    assert "answered GET clusters with more than 16 MiB" in err.value.msg


@pytest.mark.parametrize("name, value, message", [
    ("timeout", -1, "timeout must be 1 or more seconds (got -1)"),
    ("timeout", 0, "timeout must be 1 or more seconds (got 0)"),
    ("wait_sleep", 0, "wait_sleep must be 1 or more seconds (got 0)"),
    ("wait_timeout", -5, "wait_timeout must be 0 or more seconds (got -5)"),
    ("url", "ambari.example.com:8080", "url must be the Ambari server's http:// or https:// address"),
    ("url", "https://admin:pw-S3cret@gw.example.com/x", "url must not hold credentials (user:password@ before the "
     "host); give them in username and password (password is no_log), and url as https://gw.example.com/x"),
    ("url", "http://admin@gw.example.com:8080", "url must not hold credentials"),
])
def test_option_ranges_are_named(name, value, message):
    params = {"url": "https://ambari.example.com", "timeout": 30, "wait_timeout": 60, "wait_sleep": 5, name: value}
    with pytest.raises(AmbariError) as err:
        ambari.check_params(params)
    assert err.value.msg.startswith(message) and "S3cret" not in err.value.msg


# --- review of issue 10: answers of the wrong shape, bounded retries ------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.mark.parametrize("body, expected", [
    (b'{"items": [{"Clusters": "c1"}]}', "answered without items[0].Clusters.cluster_name, a cluster's name (got a "
                                         "JSON string 'c1' at items[0].Clusters)"),
    (b'{"items": "c1"}', "answered items as a JSON string 'c1' where a JSON list was expected"),
    (b'{"items": [{"Clusters": {"cluster_name": 7}}]}', "answered items[0].Clusters.cluster_name as a JSON number"),
])
def test_a_cluster_list_of_another_shape_is_named(body, expected):
    with serving(Stub([Reply(200, body)])) as stub:
        with pytest.raises(AmbariError) as err:
            ambari.resolve_cluster(stub_client(stub.url), None)
    assert err.value.msg.startswith(f"Ambari at 127.0.0.1:{stub.url.rsplit(':', 1)[1]} (GET clusters) ")
    assert expected in err.value.msg


def test_json_nested_too_deep_is_named_not_a_recursion_error():
    with serving(Stub([Reply(200, b"[" * 100000 + b"]" * 100000)])) as stub:
        with pytest.raises(AmbariError) as err:
            stub_client(stub.url).get("clusters")
    assert "answered GET clusters (HTTP 200) with JSON nested deeper than Python reads" in err.value.msg


def test_a_429_storm_is_bounded_by_timeout():
    """Retry-After: 30 on every answer: the waits of one call add up to `timeout` at most, then a message."""
    clock = FakeClock()
    with serving(Stub([Reply(429, b"busy", {"Retry-After": "30"})])) as stub:
        client = AmbariClient(stub.url, "admin", "pw", timeout=45, sleep=clock.sleep, clock=clock)
        with pytest.raises(AmbariError) as err:
            client.get("clusters")
    assert clock.now <= 45 and len(stub.seen) == 2  # one wait of 30 s; a second would pass 45 s
    assert "still refused it after 2 attempts in 30 s (retries stop after timeout=45 s)" in err.value.msg


def test_a_429_storm_during_a_wait_ends_within_wait_timeout_plus_timeout():
    clock = FakeClock()
    states = [Reply(200, b'{"Requests": {"id": 7, "request_status": "IN_PROGRESS"}}'),
              Reply(429, b"busy", {"Retry-After": "20"})]
    with serving(Stub(states)) as stub:
        client = AmbariClient(stub.url, "admin", "pw", timeout=30, sleep=clock.sleep, clock=clock)
        with pytest.raises(AmbariError) as err:
            ambari.wait_for_request(client, "c1", 7, timeout=60, sleep=5, clock=clock, sleeper=clock.sleep)
    assert clock.now <= 5 + 30 and "HTTP 429" in err.value.msg
