"""Restarts, service state, maintenance mode, request tracking and rolling schedules (reference §8-§10)."""
from __future__ import annotations

import time

from .conftest import CLUSTER

SERVICE_LEVEL = {"level": "SERVICE", "cluster_name": CLUSTER, "service_name": "KAFKA"}


def _tasks(api, request_id):
    return [t["Tasks"] for t in api.client.get(
        f"clusters/{CLUSTER}/requests/{request_id}/tasks?fields=Tasks/*")["items"]]


def test_restart_is_202_accepted_then_completes_with_tasks(started):
    api = started
    resp = api.restart(api.hosts, SERVICE_LEVEL)
    assert resp.status == 202
    body = resp.json()
    request_id = body["Requests"]["id"]
    assert body == {"href": f"{api.client.url}/api/v1/clusters/{CLUSTER}/requests/{request_id}",
                    "Requests": {"id": request_id, "status": "Accepted"}}
    info = api.client.wait_request(CLUSTER, request_id, 30)
    assert info["request_status"] == "COMPLETED" and info["progress_percent"] == 100.0
    assert info["task_count"] == 3 and info["completed_task_count"] == 3 and info["failed_task_count"] == 0
    assert info["resource_filters"] == [{"service_name": "KAFKA", "component_name": "KAFKA_BROKER",
                                         "hosts": api.hosts}]
    tasks = _tasks(api, request_id)
    assert {t["host_name"] for t in tasks} == set(api.hosts)
    assert all(t["command"] == "CUSTOM_COMMAND" and t["custom_command_name"] == "RESTART"
               and t["role"] == "KAFKA_BROKER" and t["status"] == "COMPLETED" and t["exit_code"] == 0
               for t in tasks)
    assert len({t["stage_id"] for t in tasks}) == 1  # one stage: all hosts in parallel


def test_request_ids_increase_and_unknown_request_is_404(started):
    api = started
    first = api.restart(api.hosts[:1]).json()["Requests"]["id"]
    second = api.restart(api.hosts[:1]).json()["Requests"]["id"]
    assert second > first
    resp = api.client.call("GET", f"clusters/{CLUSTER}/requests/99999")
    assert resp.status == 404
    assert resp.json()["message"] == "The requested resource doesn't exist: Request resource doesn't exist."


def test_restart_without_filters_or_command_is_rejected(api):
    no_filter = api.client.call("POST", f"clusters/{CLUSTER}/requests", {"RequestInfo": {"command": "RESTART"}})
    assert no_filter.status == 500
    assert no_filter.json()["message"].endswith("Command execution cannot proceed without a resource filter.")
    no_command = api.client.call("POST", f"clusters/{CLUSTER}/requests", {"RequestInfo": {}})
    assert no_command.status == 500
    assert no_command.json()["message"].endswith("Either command or action must be specified.")


def test_failed_start_fails_the_request_with_the_brokers_error(started):
    api = started
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "listeners": "PLAINTEXT://nohost::9092"}, tag="bad")
    request_id = api.restart([api.hosts[0]], SERVICE_LEVEL).json()["Requests"]["id"]
    info = api.client.wait_request(CLUSTER, request_id, 30)
    assert info["request_status"] == "FAILED" and info["failed_task_count"] == 1
    task = _tasks(api, request_id)[0]
    assert task["status"] == "FAILED" and task["exit_code"] == 1
    assert "Error creating broker listeners from 'PLAINTEXT://nohost::9092'" in task["stderr"]


def test_service_stop_then_start(started):
    api = started
    request_id = api.set_state("INSTALLED")
    assert request_id is not None
    assert {t["command"] for t in _tasks(api, request_id)} == {"STOP"}
    states = api.client.get(f"clusters/{CLUSTER}/host_components?fields=HostRoles/state")["items"]
    assert {i["HostRoles"]["state"] for i in states} == {"INSTALLED"}
    assert api.client.get(f"clusters/{CLUSTER}/services/KAFKA")["ServiceInfo"]["state"] == "INSTALLED"


def test_state_already_reached_is_200_with_empty_body(started):
    api = started
    resp = api.client.call("PUT", f"clusters/{CLUSTER}/services/KAFKA",
                           {"RequestInfo": {"operation_level": SERVICE_LEVEL},
                            "Body": {"ServiceInfo": {"state": "STARTED"}}})
    assert (resp.status, resp.text) == (200, "")


def test_invalid_desired_states_are_400(api):
    for state, message in [("STARTING", "Invalid arguments, invalid desired state, desiredState=STARTING"),
                           ("STOPPED", "No enum constant org.apache.ambari.server.state.State.STOPPED")]:
        resp = api.client.call("PUT", f"clusters/{CLUSTER}/services/KAFKA", {"ServiceInfo": {"state": state}})
        assert resp.status == 400 and resp.json()["message"] == message


def test_maintenance_mode_silently_skips_without_operation_level(started):
    api = started
    assert api.client.call("PUT", f"clusters/{CLUSTER}/services/KAFKA",
                           {"ServiceInfo": {"maintenance_state": "ON"}}).status == 200
    assert api.set_state("INSTALLED", level=False) is None  # 200, nothing stopped
    states = api.client.get(f"clusters/{CLUSTER}/host_components?fields=HostRoles/state,HostRoles/maintenance_state")
    assert {i["HostRoles"]["state"] for i in states["items"]} == {"STARTED"}
    assert {i["HostRoles"]["maintenance_state"] for i in states["items"]} == {"IMPLIED_FROM_SERVICE"}
    assert api.set_state("INSTALLED", level=True) is not None  # SERVICE level acts on it


def test_hosts_in_maintenance_are_not_restarted(started):
    api = started
    for host in api.hosts:
        assert api.client.call("PUT", f"clusters/{CLUSTER}/hosts/{host}",
                               {"Hosts": {"maintenance_state": "ON"}}).status == 200
    resp = api.restart(api.hosts, SERVICE_LEVEL)
    assert resp.status == 500
    assert "there were no healthy eligible hosts" in resp.json()["message"]


def test_abort_needs_a_reason_and_records_it(started):
    api = started
    request_id = api.restart(api.hosts).json()["Requests"]["id"]
    path = f"clusters/{CLUSTER}/requests/{request_id}"
    empty = api.client.call("PUT", path, {"Requests": {"request_status": "ABORTED", "abort_reason": ""}})
    assert empty.status == 400
    wrong = api.client.call("PUT", path, {"Requests": {"request_status": "COMPLETED", "abort_reason": "x"}})
    assert wrong.status == 400
    assert api.client.call("PUT", path, {"Requests": {"request_status": "ABORTED",
                                                      "abort_reason": "operator"}}).status == 200
    info = api.client.wait_request(CLUSTER, request_id, 30)
    assert info["abort_reason"] == "operator"


def _rolling(api, separation=1, tolerance=0, hosts=None):
    hosts = hosts or api.hosts
    requests = [{"order_id": i + 1, "type": "POST", "uri": f"/clusters/{CLUSTER}/requests",
                 "RequestBodyInfo": {"RequestInfo": {"context": f"_PARSE_.ROLLING-RESTART.KAFKA_BROKER.{i + 1}.{len(hosts)}",
                                                     "command": "RESTART"},
                                     "Requests/resource_filters": [{"service_name": "KAFKA",
                                                                    "component_name": "KAFKA_BROKER", "hosts": h}]}}
                for i, h in enumerate(hosts)]
    body = [{"RequestSchedule": {"batch": [{"requests": requests},
                                           {"batch_settings": {"batch_separation_in_seconds": separation,
                                                               "task_failure_tolerance": tolerance}}]}}]
    resp = api.client.call("POST", f"clusters/{CLUSTER}/request_schedules", body)
    assert resp.status == 201, resp.text
    return resp.json()["resources"][0]["RequestSchedule"]["id"]


def _wait_schedule(api, schedule_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = api.client.get(f"clusters/{CLUSTER}/request_schedules/{schedule_id}")["RequestSchedule"]
        if s["status"] != "SCHEDULED":
            return s
        time.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} still running after {timeout}s")


def test_rolling_restart_runs_batches_in_order_one_host_at_a_time(started):
    api = started
    schedule = _wait_schedule(api, _rolling(api, separation=1))
    assert schedule["status"] == "COMPLETED"
    batch = schedule["batch"]["batch_requests"]
    assert [b["request_status"] for b in batch] == ["COMPLETED"] * 3
    assert [b["return_code"] for b in batch] == [202] * 3
    requests = api.client.get(f"clusters/{CLUSTER}/requests?Requests/request_schedule/schedule_id={schedule['id']}"
                              "&fields=Requests/start_time,Requests/end_time,Requests/resource_filters")["items"]
    spans = sorted((r["Requests"]["start_time"], r["Requests"]["end_time"], r["Requests"]["resource_filters"][0]["hosts"])
                   for r in requests)
    assert [s[2] for s in spans] == [[h] for h in api.hosts]
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        assert start - end >= 1000  # batch_separation_in_seconds apart, never overlapping


def test_rolling_restart_aborts_past_the_failure_tolerance(started):
    api = started
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "listeners": "bogus"}, tag="bad")
    schedule = _wait_schedule(api, _rolling(api, separation=0, tolerance=0))
    assert schedule["status"] == "ABORTED"
    statuses = [b["request_status"] for b in schedule["batch"]["batch_requests"]]
    assert statuses == ["FAILED", None, None]  # the later brokers were never touched
