"""The client's reading of answers: JSON sent as text/plain, non-JSON bodies, Ambari's error messages."""
from __future__ import annotations

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari import AmbariClient, AmbariError


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
    assert len(err.value.msg) < 260


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
