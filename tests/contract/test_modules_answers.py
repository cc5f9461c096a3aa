"""The ambari_* modules against answers the lab never gives: a tampering proxy (tests/unit/plugins/stub_http.py) in
front of the lab's API answers chosen calls with the wrong shape, or too late, and passes every other call through.
Each case must end in a message naming the call and what was expected, never a traceback (issue 10, review)."""
from __future__ import annotations

import contextlib
import dataclasses
from types import SimpleNamespace

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.modules import (
    ambari_cluster_info, ambari_config, ambari_service)

from ..unit.plugins.stub_http import Reply, Stub, forwarding, serving
from .conftest import CLUSTER
from .test_modules import run


@contextlib.contextmanager
def proxied(api, routes):
    """The api, as the module sees it through the proxy (api.model stays the lab's own state)."""
    with serving(Stub(forwarding(api.client.url, routes))) as stub:
        yield dataclasses.replace(api, client=SimpleNamespace(url=stub.url))


def no_traceback(result):
    assert result.get("failed"), result
    assert "exception" not in result and "Unexpected error" not in result["msg"], result["msg"]
    return result["msg"]


# --- wrong-shaped answers to creates -------------------------------------------------------------------------


def test_a_request_schedule_answer_without_the_schedule_is_named(started):
    api = started
    run(ambari_config, api, config_type="kafka-broker", properties={"num.io.threads": "5"})
    with proxied(api, [("POST", r"/request_schedules$", Reply(201, b'{"resources": []}'))]) as shim:
        msg = no_traceback(run(ambari_service, shim, rolling=True, batch_separation=0, wait_sleep=1))
    assert f"(POST clusters/{CLUSTER}/request_schedules) answered without resources[0].RequestSchedule.id" in msg
    assert "the request schedule it created (got an empty JSON list at resources)" in msg
    assert "look for it in Ambari's operations list" in msg


@pytest.mark.parametrize("body, got", [(b'{"Requests": "x"}', "got a JSON string 'x' at Requests"),
                                       (b'{"Requests": {"id": "seven"}}', "as a JSON string 'seven' where a number")])
def test_a_request_answer_of_another_shape_is_named(started, body, got):
    api = started
    run(ambari_config, api, config_type="kafka-broker", properties={"num.io.threads": "5"})
    with proxied(api, [("POST", rf"/clusters/{CLUSTER}/requests$", Reply(202, body))]) as shim:
        result = run(ambari_service, shim, wait_sleep=1)
    msg = no_traceback(result)
    assert f"Ambari at 127.0.0.1:" in msg and f"(POST clusters/{CLUSTER}/requests) answered" in msg
    assert "Requests.id" in msg and got in msg and result["changed"]  # the restart may have been sent


def test_a_config_group_created_without_its_id_in_the_answer_is_read_back(api):
    args = dict(config_type="kafka-broker", config_group="g-wn0", hosts=[api.hosts[0]],
                properties={"num.io.threads": "4"})
    with proxied(api, [("POST", r"/config_groups$", lambda: Reply(201, b""))]) as shim:
        result = run(ambari_config, shim, **args)
    assert not result.get("failed"), result["msg"]
    (group,) = api.model.state["config_groups"].values()
    assert result["changed"] and result["group_id"] == group["id"] and group["hosts"] == [api.hosts[0]]
    assert any(f"(POST clusters/{CLUSTER}/config_groups) answered without resources[0].ConfigGroup.id, the id of the "
               "config group it created (got an empty body" in w and "Read back, it is in force" in w
               for w in result["warnings"])


def test_a_config_group_create_without_its_id_and_not_there_is_named(api):
    with proxied(api, [("POST", r"/config_groups$", Reply(201, b'{"resources": [{"ConfigGroup": {}}]}'))]) as shim:
        result = run(ambari_config, shim, config_type="kafka-broker", config_group="g-wn0", hosts=[api.hosts[0]],
                     properties={"num.io.threads": "4"})
    msg = no_traceback(result)
    assert "answered without resources[0].ConfigGroup.id" in msg and "(got an object with no fields at" in msg
    assert "it is not in force (yet)" in msg and "Check config group 'g-wn0' of KAFKA on c1 in Ambari" in msg


# --- a write Ambari applied but answered too late ---------------------------------------------------------------


def test_a_config_write_answered_too_late_is_read_back_and_reported_changed(api):
    with proxied(api, [("PUT", rf"/clusters/{CLUSTER}$", lambda: Reply(200, b"", delay=3))]) as shim:
        result = run(ambari_config, shim, timeout=1, config_type="kafka-broker", properties={"num.io.threads": 11})
    assert not result.get("failed"), result["msg"]
    assert result["changed"] and result["version"] == 2 and api.current("kafka-broker")[2]["num.io.threads"] == "11"
    assert any(f"took PUT clusters/{CLUSTER} but gave no answer within timeout=1s" in w
               and "Read back, it is in force: reported as changed" in w for w in result["warnings"])


def test_a_config_write_unanswered_and_not_applied_says_the_outcome_is_unknown(api):
    with proxied(api, [("PUT", rf"/clusters/{CLUSTER}$", Reply(200, b"", delay=3))]) as shim:
        result = run(ambari_config, shim, timeout=1, config_type="kafka-broker", properties={"num.io.threads": 11})
    msg = no_traceback(result)
    assert msg.startswith(f"Ambari at 127.0.0.1:") and "but gave no answer within timeout=1s" in msg
    assert "Read back, it is not in force (yet): Ambari may have refused it or may still apply it" in msg
    assert "Check the config history of kafka-broker on c1 in Ambari" in msg
    assert "Cannot connect" not in msg and api.current("kafka-broker")[:2] == ("version1", 1)


def test_a_config_group_move_answered_too_late_is_read_back(api):
    args = dict(config_type="kafka-broker", config_group="g-wn0", properties={"num.io.threads": "4"})
    assert run(ambari_config, api, hosts=[api.hosts[0]], **args)["changed"]
    with proxied(api, [("PUT", r"/config_groups/\d+$", lambda: Reply(200, b"", delay=3))]) as shim:
        result = run(ambari_config, shim, timeout=1, hosts=api.hosts[:2], **args)
    assert not result.get("failed"), result["msg"]
    assert result["changed"] and any("Read back, it is in force" in w for w in result["warnings"])
    assert sorted(next(iter(api.model.state["config_groups"].values()))["hosts"]) == api.hosts[:2]


# --- second review of issue 10: answers whose fields are of another type -------------------------------------------

HINT = "Check that url is the Ambari server's address"


@pytest.mark.parametrize("route, expected", [
    ((r"/clusters/c1\?fields=Clusters/cluster_name", b'{"Clusters": []}'),
     "answered without Clusters.desired_configs, the configs in force (got an empty JSON list at Clusters)"),
    ((r"/clusters/c1\?fields=Clusters/cluster_name", b'{"Clusters": {"desired_configs": []}}'),
     "answered Clusters.desired_configs as an empty JSON list where a JSON object was expected"),
    ((r"/clusters/c1/hosts\?", b'{"items": [{"Hosts": {"host_name": "x"}}, 5]}'),
     "answered items[1] as a JSON number where a JSON object was expected (one of the cluster's hosts)"),
    ((r"/clusters/c1/host_components\?", b'{"items": [{"HostRoles": []}]}'),
     "answered items[0].HostRoles as an empty JSON list where a JSON object was expected (a host component)"),
    ((r"/clusters/c1/configurations\?type=kafka-broker", b'{"items": [{"properties": {"listeners": 5}}]}'),
     "answered items[0].properties.listeners as a JSON number where a string was expected (a property's value)"),
])
def test_cluster_info_names_a_field_of_another_type(started, route, expected):
    pattern, body = route
    with proxied(started, [("GET", pattern, Reply(200, body))]) as shim:
        result = run(ambari_cluster_info, shim)
    msg = no_traceback(result)
    assert msg.startswith("Ambari at 127.0.0.1:") and expected in msg and HINT in msg


@pytest.mark.parametrize("route, expected", [
    ((r"fields=Clusters/desired_configs$", b'{"Clusters": {"desired_configs": {"kafka-broker": "x"}}}'),
     "answered without Clusters.desired_configs.kafka-broker.tag, the tag of the kafka-broker config in force (got "
     "a JSON string 'x' at Clusters.desired_configs.kafka-broker)"),
    ((r"/configurations\?type=kafka-broker", b'{"items": ["x"]}'),
     "answered items[0] as a JSON string 'x' where a JSON object was expected (one of the configurations"),
])
def test_config_names_a_field_of_another_type(started, route, expected):
    pattern, body = route
    with proxied(started, [("GET", pattern, Reply(200, body))]) as shim:
        result = run(ambari_config, shim, config_type="kafka-broker", properties={"num.io.threads": "7"})
    msg = no_traceback(result)
    assert expected in msg and HINT in msg


def test_a_request_state_of_another_type_is_a_wrong_answer_at_once(started):
    """A state that is no string never becomes COMPLETED: fail on the first answer, not after wait_timeout."""
    api = started
    run(ambari_config, api, config_type="kafka-broker", properties={"num.io.threads": "5"})
    polls = []

    def odd_state():
        polls.append(1)
        return Reply(200, b'{"Requests": {"request_status": ["x"], "id": 1}}')

    with proxied(api, [("GET", r"/requests/\d+\?fields", odd_state)]) as shim:
        result = run(ambari_service, shim, wait_sleep=1, wait_timeout=600)
    msg = no_traceback(result)
    assert "answered Requests.request_status as a JSON list of 1 where a string was expected" in msg, msg
    assert "Timed out" not in msg and len(polls) == 1 and result["changed"]


def test_brokers_without_an_ip_fail_naming_them_unless_fqdns_are_asked_for(started):
    api = started
    names = b",".join(b'{"Hosts": {"host_name": "%s"}}' % h.encode() for h in api.hosts[:2])
    no_ip = b'{"items": [%s, {"Hosts": {"host_name": "%s", "ip": "10.232.99.12"}}]}' % (names, api.hosts[2].encode())
    with proxied(api, [("GET", r"/clusters/c1/hosts\?", Reply(200, no_ip))]) as shim:
        result = run(ambari_cluster_info, shim)
        by_name = run(ambari_cluster_info, shim, address="fqdn")
    msg = no_traceback(result)
    assert msg.startswith(f"Ambari lists no IP address (Hosts/ip) for the brokers of cluster {CLUSTER} on "
                          f"{api.hosts[0]}, {api.hosts[1]}. Set address: fqdn")
    assert result["hosts_without_ip"] == api.hosts[:2] and "None" not in msg
    assert not by_name.get("failed") and by_name["bootstrap_servers"] == ",".join(f"{h}:9092" for h in api.hosts)


def test_a_url_with_credentials_is_refused_and_never_echoed(api):
    host = api.client.url.split("//", 1)[1]
    shim = dataclasses.replace(api, client=SimpleNamespace(url=f"http://admin:Url-S3cret@{host}"))
    result = run(ambari_cluster_info, shim)
    msg = no_traceback(result)
    assert msg.startswith("url must not hold credentials") and f"url as http://{host}" in msg
    assert "Url-S3cret" not in str(result) and result["http_requests"] == 0
