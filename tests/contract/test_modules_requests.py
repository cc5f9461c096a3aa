"""ambari_service and the shared client against the lab as Ambari 2.6 and 2.7 answer (issue 10): rolling restarts
that stop after a failure and still end COMPLETED, hosts Ambari silently leaves out, busy clusters, the Accept
header, redirects, answers of the wrong shape and bad options. Faults are injected into the lab (another operator,
a refused POST) exactly where Ambari's source says they land."""
from __future__ import annotations

import json

import pytest

from kafka_lab.ambari.errors import ApiError
from kafka_lab.ambari.operations import Operations, agent_marker
from kafka_lab.ambari.server import Endpoint

from ansible_collections.ambari_kafka.mirroring.plugins.modules import ambari_cluster_info, ambari_service

from ..unit.plugins.stub_http import Reply, Stub, serving
from .conftest import CLUSTER, running_api
from .test_modules import run


@pytest.fixture(params=["2.6", "2.7"])
def any_started(request, tmp_path):
    with running_api(tmp_path, version=request.param) as api:
        api.set_state("STARTED")
        yield api


def make_stale(api, **props):
    _, _, current = api.current("kafka-broker")
    resp = api.put_config("kafka-broker", {**current, "num.io.threads": "5", **props}, tag="stale")
    assert resp.status == 200 and api.stale_hosts() == api.hosts


def schedule_request_ids(api):
    return sorted(r["id"] for r in api.model.state["requests"].values() if r["request_schedule_id"] is not None)


def set_maintenance(api, host, state="ON"):
    api.model.state["hosts"][host]["maintenance_state"] = state


def stop_agent(api, host):
    marker = agent_marker(api.state_path, host)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


# --- transport -----------------------------------------------------------------------------------------------

def test_modules_are_served_where_jersey_refuses_application_json(any_started):
    """Jersey 1.19 and @Produces("text/plain") (apache/ambari release-2.6.2, release-2.7.8 ClusterService.java):
    the lab answers 406 to Accept: application/json, which the client sent before."""
    api = any_started
    assert api.client.call("GET", "clusters", headers={"Accept": "application/json"}).status == 406
    info = run(ambari_cluster_info, api)
    assert not info.get("failed") and info["cluster"] == CLUSTER


def test_a_redirect_to_another_origin_gets_no_credentials(api, monkeypatch):
    reached = []
    handle = Endpoint.handle
    monkeypatch.setattr(Endpoint, "handle", lambda self, *a, **k: reached.append(a) or handle(self, *a, **k))
    with serving(Stub([Reply(302, headers={"Location": api.client.url + "/api/v1/clusters"})])) as proxy:
        result = run(ambari_cluster_info, api, url=proxy.url, cluster=None)
    assert result["failed"] and "Unexpected error" not in result["msg"]
    assert f"to {api.client.url}/api/v1/clusters, another origin" in result["msg"]
    assert f"set url to http://127.0.0.1:{api.client.url.rsplit(':', 1)[1]}" in result["msg"]
    assert [s.path for s in proxy.seen] == ["/api/v1/clusters"] and reached == []


@pytest.mark.parametrize("body, expected", [
    (b"[]", "answered GET clusters with a JSON list where a JSON object was expected"),
    (b"", "answered GET clusters with an empty body where a JSON object was expected"),
    (b"<html><title>Sign in</title></html>", "with a body that is not JSON: '<html><title>Sign in"),
    (json.dumps({"items": [{"cluster": "c1"}]}).encode(),
     "answered without items[0].Clusters.cluster_name, a cluster's name (got an object with cluster at items[0])"),
])
def test_answers_of_another_shape_are_named_not_a_traceback(api, body, expected):
    with serving(Stub([Reply(200, body)])) as proxy:
        result = run(ambari_cluster_info, api, url=proxy.url, cluster=None)
    assert result["failed"] and expected in result["msg"]
    assert "Unexpected error" not in result["msg"] and "exception" not in result


@pytest.mark.parametrize("args, expected", [
    ({"timeout": -1}, "timeout must be 1 or more seconds (got -1)"),
    ({"wait_sleep": 0}, "wait_sleep must be 1 or more seconds (got 0)"),
    ({"failure_tolerance": -1}, "failure_tolerance must be 0 or more"),
    ({"batch_size": 0}, "batch_size must be 1 or more"),
    ({"stale_components": [{"host": "wn0"}]}, "stale_components[0] must name a host and a component"),
    ({"stale_components": [{"wn0": "KAFKA_BROKER"}]}, "stale_components[0] must name a host and a component"),
])
def test_bad_options_are_named_before_anything_is_sent(api, args, expected):
    before = len(api.model.state["requests"])
    result = run(ambari_service, api, **args)
    assert result["failed"] and result["msg"].startswith(expected)
    assert "Unexpected error" not in result["msg"] and len(api.model.state["requests"]) == before


# --- rolling restarts ------------------------------------------------------------------------------------------

def test_a_rolling_restart_that_ambari_stopped_is_a_failure_naming_the_hosts(any_started):
    """Ambari 2.6/2.7 stop the schedule past the tolerance and mark it COMPLETED (apache/ambari release-2.6.2,
    release-2.7.8 BatchRequestJob.doWork, ExecutionScheduleManager.finalizeBatch): the module reads
    batch/batch_requests."""
    api = any_started
    make_stale(api, listeners="PLAINTEXT://nohost::9092")
    result = run(ambari_service, api, rolling=True, batch_separation=0, wait_sleep=1)
    schedule = api.model.state["schedules"][str(result["schedule_id"])]
    assert schedule["status"] == "COMPLETED"  # what the old check trusted
    assert result["failed"] and result["changed"]
    assert f"batch 1 of 3 ({api.hosts[0]})" in result["msg"] and f"{api.hosts[0]} KAFKA_BROKER FAILED" in result["msg"]
    assert "Error creating broker listeners from 'PLAINTEXT://nohost::9092'" in result["msg"]
    assert f"batch 2 of 3 ({api.hosts[1]}) never ran" in result["msg"]
    assert f"batch 3 of 3 ({api.hosts[2]}) never ran" in result["msg"]
    assert len(result["batch_problems"]) == 3 and result["request_ids"] == schedule_request_ids(api)
    assert api.stale_hosts() == api.hosts


def test_a_batch_whose_post_ambari_refused_is_a_failure(any_started, monkeypatch):
    """A refused POST leaves a FAILED batch without a request, and the schedule goes on and ends COMPLETED
    (ExecutionScheduleManager.executeBatchRequest, convertToBatchRequestResponse, release-2.6.2/2.7.8)."""
    api = any_started
    make_stale(api)
    original = Operations.post_request

    def refuse_the_second(self, body, user, schedule_id=None):
        if schedule_id is not None and api.hosts[1] in json.dumps(body):
            raise ApiError(500, "An internal system exception occurred: database is locked")
        return original(self, body, user, schedule_id)

    monkeypatch.setattr(Operations, "post_request", refuse_the_second)
    result = run(ambari_service, api, rolling=True, batch_separation=0, wait_sleep=1)
    assert result["failed"] and result["changed"]
    assert (f"batch 2 of 3 ({api.hosts[1]}): Ambari refused its request (HTTP 500: An internal system exception "
            f"occurred: database is locked)") in result["msg"]
    assert api.stale_hosts() == [api.hosts[1]]  # the others were restarted, and the module said which one was not


def test_the_requests_of_a_rolling_restart_are_found_on_a_busy_cluster(any_started, monkeypatch):
    """Ambari lists the newest 20 requests and filters them afterwards (RequestResourceProvider, release-2.6.2
    and release-2.7.8): another operator's 21 requests after the last batch push the schedule's out of that page."""
    api = any_started
    make_stale(api)
    original = Operations._run_batch_request

    def then_someone_else(self, schedule, batch, user, schedule_id):
        failed = original(self, schedule, batch, user, schedule_id)
        if batch["order_id"] == 3:
            for _ in range(21):
                self.post_request({"RequestInfo": {"command": "RESTART", "context": "someone else"},
                                   "Requests/resource_filters": [{"service_name": "KAFKA",
                                                                  "component_name": "KAFKA_BROKER",
                                                                  "hosts": api.hosts[0]}]}, "operator")
        return failed

    monkeypatch.setattr(Operations, "_run_batch_request", then_someone_else)
    result = run(ambari_service, api, rolling=True, batch_separation=0, wait_sleep=1)
    assert not result.get("failed"), result["msg"]
    assert result["request_ids"] == schedule_request_ids(api) and len(result["request_ids"]) == 3


def test_a_rolling_batch_whose_hosts_ambari_left_out_is_a_failure(any_started, monkeypatch):
    """A batch whose every host is left out answers 201 without a request and is recorded COMPLETED
    (AmbariCustomCommandExecutionHelper.addCustomCommandAction, convertToBatchRequestResponse)."""
    api = any_started
    make_stale(api)
    original = Operations.post_request

    def maintenance_meanwhile(self, body, user, schedule_id=None):
        if schedule_id is not None and api.hosts[1] in json.dumps(body):
            set_maintenance(api, api.hosts[1])  # an operator, between the module's read and this batch
        return original(self, body, user, schedule_id)

    monkeypatch.setattr(Operations, "post_request", maintenance_meanwhile)
    result = run(ambari_service, api, rolling=True, batch_separation=0, wait_sleep=1)
    assert result["failed"] and result["changed"]
    assert f"batch 2 of 3 ({api.hosts[1]}): Ambari created no request for it (HTTP 201)" in result["msg"]


# --- hosts Ambari leaves out -------------------------------------------------------------------------------------

def test_a_host_put_in_maintenance_meanwhile_is_named_as_left_out(any_started, monkeypatch):
    """RESTART drops hosts in maintenance without an error (AmbariCustomCommandExecutionHelper
    .addCustomCommandAction, release-2.6.2 and release-2.7.8): the module re-reads stale_configs."""
    api = any_started
    make_stale(api)
    original = Operations.post_request

    def maintenance_meanwhile(self, body, user, schedule_id=None):
        set_maintenance(api, api.hosts[2])
        return original(self, body, user, schedule_id)

    monkeypatch.setattr(Operations, "post_request", maintenance_meanwhile)
    result = run(ambari_service, api, wait_sleep=1)
    assert result["failed"] and result["changed"]
    assert f"left out {api.hosts[2]} without an error" in result["msg"]
    assert f"{api.hosts[2]}/KAFKA_BROKER: in maintenance mode (IMPLIED_FROM_HOST)" in result["msg"]
    assert "hosts whose agent lost heartbeat" not in result["msg"]  # not for KAFKA_BROKER, a MASTER (item 11)
    assert result["left_out"] == [{"host": api.hosts[2], "component": "KAFKA_BROKER"}]
    assert api.stale_hosts() == [api.hosts[2]]


def test_every_host_left_out_is_named_not_an_unexpected_error(any_started, monkeypatch):
    """With every host dropped there is no request: 201 and an empty body (CreateHandler.persist)."""
    api = any_started
    make_stale(api)
    original = Operations.post_request

    def maintenance_everywhere(self, body, user, schedule_id=None):
        for host in api.hosts:
            set_maintenance(api, host)
        return original(self, body, user, schedule_id)

    monkeypatch.setattr(Operations, "post_request", maintenance_everywhere)
    result = run(ambari_service, api, wait_sleep=1)
    assert result["failed"] and "Unexpected error" not in result["msg"]
    assert f"left out {', '.join(api.hosts)} without an error" in result["msg"]


def test_a_broker_whose_agent_lost_heartbeat_fails_the_restart_and_says_why(any_started):
    """ActionScheduler aborts a task on a HEARTBEAT_LOST host, without output (release-2.6.2, release-2.7.8)."""
    api = any_started
    make_stale(api)
    stop_agent(api, api.hosts[0])
    result = run(ambari_service, api, wait_sleep=1)
    assert result["failed"] and result["changed"]
    assert f"{api.hosts[0]} KAFKA_BROKER ABORTED" in result["msg"]
    assert "ambari-agent has lost heartbeat" in result["msg"]


def test_a_stop_that_ambari_skipped_on_a_heartbeat_lost_host_is_named(any_started):
    """ServiceResourceProvider.updateServices ignores UNKNOWN host components (release-2.6.2, release-2.7.8)."""
    api = any_started
    stop_agent(api, api.hosts[1])
    result = run(ambari_service, api, state="stopped", wait_sleep=1)
    assert result["failed"] and result["changed"]
    assert f"{api.hosts[1]}/KAFKA_BROKER: its ambari-agent lost heartbeat (state UNKNOWN)" in result["msg"]
