"""Restarts, service state, maintenance mode, request tracking and rolling schedules (reference §8-§10)."""
from __future__ import annotations

import time

import pytest

from kafka_lab.ambari.operations import agent_marker

from .conftest import CLUSTER, running_api

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


def test_restart_silently_leaves_out_hosts_in_maintenance(started):
    """apache/ambari release-2.6.2 and release-2.7.8
    ambari-server/src/main/java/org/apache/ambari/server/controller/AmbariCustomCommandExecutionHelper.java
    addCustomCommandAction: hosts in maintenance are dropped without an error; "no healthy eligible hosts" only
    when nothing was dropped and nothing is left. With every host dropped, RoleGraph makes no stage,
    RequestStageContainer.getRequestStatusResponse is null and CreateHandler.persist answers 201 with no body."""
    api = started
    api.client.call("PUT", f"clusters/{CLUSTER}/hosts/{api.hosts[2]}", {"Hosts": {"maintenance_state": "ON"}})
    resp = api.restart(api.hosts, SERVICE_LEVEL)
    assert resp.status == 202
    request_id = resp.json()["Requests"]["id"]
    api.client.wait_request(CLUSTER, request_id, 30)
    assert sorted(t["host_name"] for t in _tasks(api, request_id)) == api.hosts[:2]
    for host in api.hosts[:2]:
        api.client.call("PUT", f"clusters/{CLUSTER}/hosts/{host}", {"Hosts": {"maintenance_state": "ON"}})
    none_left = api.restart(api.hosts, SERVICE_LEVEL)
    assert (none_left.status, none_left.text) == (201, "")
    later = api.restart(api.hosts, {"level": "HOST_COMPONENT", "cluster_name": CLUSTER}).json()["Requests"]["id"]
    assert later == request_id + 2  # the request id of the empty one was allocated all the same
    no_host = api.restart([], SERVICE_LEVEL)
    assert no_host.status == 500
    assert no_host.json()["message"].endswith("While building the RESTART custom command for KAFKA/KAFKA_BROKER, "
                                              "there were no healthy eligible hosts")


def _stop_agent(api, host):
    marker = agent_marker(api.state_path, host)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def test_a_host_whose_agent_stopped_is_heartbeat_lost_and_its_components_unknown(started):
    """apache/ambari release-2.6.2 and release-2.7.8 ambari-server/src/main/java/org/apache/ambari/server/agent/
    HeartbeatMonitor.java handleHeartbeatLost: the host goes HEARTBEAT_LOST, its non-client components UNKNOWN."""
    api = started
    _stop_agent(api, api.hosts[1])
    host = api.client.get(f"clusters/{CLUSTER}/hosts/{api.hosts[1]}?fields=Hosts/host_state,Hosts/host_status")
    assert (host["Hosts"]["host_state"], host["Hosts"]["host_status"]) == ("HEARTBEAT_LOST", "UNKNOWN")
    states = api.client.get(f"clusters/{CLUSTER}/host_components?fields=HostRoles/state")["items"]
    assert {i["HostRoles"]["host_name"]: i["HostRoles"]["state"] for i in states} == {
        api.hosts[0]: "STARTED", api.hosts[1]: "UNKNOWN", api.hosts[2]: "STARTED"}
    agent_marker(api.state_path, api.hosts[1]).unlink()
    assert api.client.get(f"clusters/{CLUSTER}/hosts/{api.hosts[1]}")["Hosts"]["host_state"] == "HEALTHY"


def test_restart_of_a_master_on_a_heartbeat_lost_host_is_aborted_by_the_scheduler(started):
    """KAFKA_BROKER is a MASTER (common-services/KAFKA/0.8.1/metainfo.xml), so
    AmbariCustomCommandExecutionHelper.filterUnhealthHostItem keeps the host (it drops unhealthy hosts only for
    non-master components); ActionScheduler.isHostStateUnknown then has ActionDBAccessorImpl.timeoutHostRole mark
    the task ABORTED, without output (apache/ambari release-2.6.2 and release-2.7.8, actionmanager/)."""
    api = started
    _stop_agent(api, api.hosts[0])
    request_id = api.restart(api.hosts, SERVICE_LEVEL).json()["Requests"]["id"]
    info = api.client.wait_request(CLUSTER, request_id, 30)
    assert info["request_status"] == "ABORTED" and info["aborted_task_count"] == 1
    tasks = {t["host_name"]: t for t in _tasks(api, request_id)}
    assert tasks[api.hosts[0]]["status"] == "ABORTED" and tasks[api.hosts[0]]["stderr"] == ""
    assert {tasks[h]["status"] for h in api.hosts[1:]} == {"COMPLETED"}


def test_stop_silently_skips_a_heartbeat_lost_host(started):
    """ServiceResourceProvider.updateServices ignores UNKNOWN host components, and
    AmbariManagementControllerImpl.addStages creates no command for a HEARTBEAT_LOST host (release-2.6.2,
    release-2.7.8): no error, the broker there keeps running, and its desired state is left as it was
    (updateServiceStates sets it only for the host components that change)."""
    api = started
    _stop_agent(api, api.hosts[2])
    request_id = api.set_state("INSTALLED")
    assert sorted(t["host_name"] for t in _tasks(api, request_id)) == api.hosts[:2]
    desired = api.client.get(f"clusters/{CLUSTER}/host_components?fields=HostRoles/desired_state")["items"]
    assert {i["HostRoles"]["host_name"]: i["HostRoles"]["desired_state"] for i in desired} == {
        api.hosts[0]: "INSTALLED", api.hosts[1]: "INSTALLED", api.hosts[2]: "STARTED"}


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


def _rolling(api, separation=1, tolerance=0, hosts=None, settings=None):
    hosts = hosts or api.hosts
    requests = [{"order_id": i + 1, "type": "POST", "uri": f"/clusters/{CLUSTER}/requests",
                 "RequestBodyInfo": {"RequestInfo": {"context": f"_PARSE_.ROLLING-RESTART.KAFKA_BROKER.{i + 1}.{len(hosts)}",
                                                     "command": "RESTART"},
                                     "Requests/resource_filters": [{"service_name": "KAFKA",
                                                                    "component_name": "KAFKA_BROKER", "hosts": h}]}}
                for i, h in enumerate(hosts)]
    batch_settings = {"batch_separation_in_seconds": separation, "task_failure_tolerance": tolerance}
    if settings is not None:
        batch_settings = settings
    body = [{"RequestSchedule": {"batch": [{"requests": requests}, {"batch_settings": batch_settings}]}}]
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
    assert schedule["status"] == "COMPLETED" and schedule["last_execution_status"] == "COMPLETED"
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


SCHEDULER = ("apache/ambari release-2.6.2 and release-2.7.8 ambari-server/src/main/java/org/apache/ambari/server/: "
             "state/scheduler/RequestExecution.java (Status: SCHEDULED, COMPLETED, DISABLED), "
             "state/scheduler/BatchRequestJob.java doWork, scheduler/AbstractLinearExecutionJob.java execute, "
             "scheduler/ExecutionScheduleManager.java executeBatchRequest, hasToleranceThresholdExceeded, finalizeBatch")


@pytest.mark.parametrize("version", ["2.6", "2.7"])
def test_past_the_tolerance_the_schedule_stops_and_still_ends_completed(tmp_path, version):
    """The job throws once the failed tasks exceed task_failure_tolerance; the chain ends and finalizeBatch marks
    the schedule COMPLETED. The later batches never run: no status, no return code (Jackson NON_EMPTY).
    ABORTED and the per-batch tolerance are Ambari 2.8 (AMBARI-24733). See SCHEDULER."""
    with running_api(tmp_path, version=version) as api:
        api.set_state("STARTED")
        _, _, props = api.current("kafka-broker")
        api.put_config("kafka-broker", {**props, "listeners": "bogus"}, tag="bad")
        schedule = _wait_schedule(api, _rolling(api, separation=0, tolerance=0))
        assert schedule["status"] == "COMPLETED" and schedule["last_execution_status"] == "FAILED"
        batch = schedule["batch"]["batch_requests"]
        assert [b.get("request_status") for b in batch] == ["FAILED", None, None]
        assert [b.get("return_code") for b in batch] == [202, None, None]
        assert all("request_id" not in b for b in batch)  # BatchRequest has no request_id before 2.8
        assert api.stale_hosts() == api.hosts  # nothing was restarted successfully


def test_without_a_tolerance_every_batch_runs_whatever_fails(started):
    """BatchSettings.taskFailureToleranceLimit stays null without task_failure_tolerance, and
    hasToleranceThresholdExceeded is then false (see SCHEDULER); a 2.8-only key is not read."""
    api = started
    _, _, props = api.current("kafka-broker")
    api.put_config("kafka-broker", {**props, "listeners": "bogus"}, tag="bad")
    schedule = _wait_schedule(api, _rolling(api, settings={"batch_separation_in_seconds": 0,
                                                           "task_failure_tolerance_per_batch": 0}))
    assert schedule["status"] == "COMPLETED"
    assert [b["request_status"] for b in schedule["batch"]["batch_requests"]] == ["FAILED"] * 3
    assert schedule["batch"]["batch_settings"] == {"batch_separation_in_seconds": 0}


def test_a_batch_whose_post_fails_has_no_request_and_the_next_batch_runs(started):
    """convertToBatchRequestResponse: an answer >= 300 is FAILED with its code and message and no request id;
    BatchRequestJob.doWork then neither waits nor counts it, and the chain goes on (see SCHEDULER)."""
    api = started
    schedule = _wait_schedule(api, _rolling(api, separation=0, tolerance=0,
                                            hosts=[api.hosts[0], "wn9.nowhere", api.hosts[2]]))
    assert schedule["status"] == "COMPLETED"
    batch = schedule["batch"]["batch_requests"]
    assert [b["request_status"] for b in batch] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert [b["return_code"] for b in batch] == [202, 404, 202]
    assert batch[1]["response_message"] == "The requested resource doesn't exist: Host not found, hostname=wn9.nowhere"
    ran = api.client.get(f"clusters/{CLUSTER}/requests?Requests/request_schedule/schedule_id={schedule['id']}")
    assert len(ran["items"]) == 2


def test_a_batch_whose_hosts_are_all_left_out_is_completed_with_201(started):
    """A 201 without a body is COMPLETED with no request id (convertToBatchRequestResponse, see SCHEDULER)."""
    api = started
    api.client.call("PUT", f"clusters/{CLUSTER}/hosts/{api.hosts[1]}", {"Hosts": {"maintenance_state": "ON"}})
    schedule = _wait_schedule(api, _rolling(api, separation=0))
    batch = schedule["batch"]["batch_requests"]
    assert [(b["request_status"], b["return_code"]) for b in batch] == [
        ("COMPLETED", 202), ("COMPLETED", 201), ("COMPLETED", 202)]


def test_deleting_a_schedule_disables_it_and_no_later_batch_runs(started):
    """DELETE marks the schedule DISABLED and deletes its jobs (RequestScheduleResourceProvider.deleteResources,
    ExecutionScheduleManager.deleteAllJobs)."""
    api = started
    schedule_id = _rolling(api, separation=3600)
    path = f"clusters/{CLUSTER}/request_schedules/{schedule_id}"
    deadline = time.monotonic() + 30
    while api.client.get(path)["RequestSchedule"]["batch"]["batch_requests"][0].get("request_status") != "COMPLETED":
        assert time.monotonic() < deadline, "the first batch did not complete"
        time.sleep(0.05)
    assert api.client.call("DELETE", path).status == 200
    schedule = api.client.get(path)["RequestSchedule"]
    assert schedule["status"] == "DISABLED"
    assert [b.get("request_status") for b in schedule["batch"]["batch_requests"]] == ["COMPLETED", None, None]


def test_a_schedule_instance_shows_the_bodies_the_list_does_not(started):
    """convertToResponseWithBody for one schedule, convertToResponse for the list (RequestScheduleResourceProvider
    .getRequestSchedules, release-2.7.8)."""
    api = started
    schedule_id = _rolling(api, separation=0)
    one = api.client.get(f"clusters/{CLUSTER}/request_schedules/{schedule_id}")["RequestSchedule"]
    assert all("request_body" in b for b in one["batch"]["batch_requests"])
    listed = api.client.get(f"clusters/{CLUSTER}/request_schedules?fields=RequestSchedule/batch")["items"][0]
    assert all("request_body" not in b for b in listed["RequestSchedule"]["batch"]["batch_requests"])


# --- the request list: paged before the predicate (issue 10) ----------------------------------------------------

PAGING = ("apache/ambari release-2.6.2 and release-2.7.8 ambari-server/src/main/java/org/apache/ambari/server/: "
          "controller/internal/RequestResourceProvider.java getResources/getRequestResources (newest max_results "
          "ids, DEFAULT_PAGE_SIZE 20), api/services/BaseRequest.java getPageRequest (page_size, from, to), "
          "api/query/QueryImpl.java createRequest (max_results = page_size + offset, ascending unless to), "
          "controller/internal/ClusterControllerImpl.java getPage")


def _many_requests(api, n):
    ids = [api.restart(api.hosts[:1]).json()["Requests"]["id"] for _ in range(n)]
    for request_id in ids:
        api.client.wait_request(CLUSTER, request_id, 60)
    return ids


def _ids(api, query):
    return [i["Requests"]["id"] for i in api.client.get(f"clusters/{CLUSTER}/requests?{query}")["items"]]


def test_the_request_list_is_the_newest_20_filtered_afterwards(started):
    """See PAGING: a predicate does not widen the window, so an old request is not found by it."""
    api = started
    ids = _many_requests(api, 25)
    assert _ids(api, "fields=Requests/id") == ids[-20:]
    first = api.client.get(f"clusters/{CLUSTER}/requests/{ids[0]}?fields=Requests/request_context")
    context = first["Requests"]["request_context"]
    assert _ids(api, f"Requests/id>={ids[0]}&Requests/id<={ids[2]}") == []  # not an equality: paged first
    assert _ids(api, f"Requests/id={ids[0]}") == [ids[0]]  # an id is read directly
    assert _ids(api, f"Requests/id.in({ids[0]},{ids[1]})") == ids[:2]
    assert _ids(api, f"Requests/request_context={context}&Requests/id<={ids[4]}") == []


def test_page_size_from_and_to_widen_or_move_the_window(started):
    """See PAGING: page_size alone or from=start pages from the oldest, from=N skips N, to=end takes the newest."""
    api = started
    before = max(_ids(api, "page_size=1&to=end") or [0])
    ids = _many_requests(api, 25)
    everything = _ids(api, "page_size=1000&from=start")
    assert everything[-25:] == ids
    assert _ids(api, "page_size=3") == everything[:3]
    assert _ids(api, "page_size=2&from=3") == everything[3:5]
    assert _ids(api, "page_size=5&to=end") == everything[-5:]
    assert _ids(api, f"Requests/id<={ids[1]}&page_size=30&to=end") == [i for i in everything[-30:] if i <= ids[1]]
    assert _ids(api, f"Requests/id>{before}&page_size={ids[-1] - before}&to=end") == ids


def test_a_page_size_that_is_not_a_number_is_a_500(api):
    """BaseRequest.getPageRequest's Integer.valueOf throws outside ReadHandler's try (see PAGING)."""
    resp = api.client.call("GET", f"clusters/{CLUSTER}/requests?page_size=many")
    assert resp.status == 500 and "Traceback" not in resp.text
