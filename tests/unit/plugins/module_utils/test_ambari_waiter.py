"""Request waiting: bounded by a (fake) monotonic clock, failures carry hosts and stderr."""
from __future__ import annotations

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import AmbariError, wait_for_request
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_services import (
    HostComponent, batches, plan)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Requests:
    """Answers GETs with a scripted sequence of request states (recorded shapes of Ambari's answers)."""

    def __init__(self, states, stderr="line1\nline2\njava.net.BindException: Address already in use"):
        self.states = list(states)
        self.stderr = stderr
        self.paths = []

    def get(self, path):
        self.paths.append(path)
        if "/tasks?" in path:
            return {"items": [{"Tasks": {"host_name": "wn1", "role": "KAFKA_BROKER", "status": "FAILED",
                                         "stderr": self.stderr}}]}
        status = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"Requests": {"id": 7, "request_status": status, "request_context": "Restart Kafka",
                             "progress_percent": 35.0}}


def test_waits_until_completed():
    clock = Clock()
    client = Requests(["PENDING", "IN_PROGRESS", "COMPLETED"])
    info = wait_for_request(client, "c1", 7, timeout=60, sleep=5, clock=clock, sleeper=clock.sleep)
    assert info["request_status"] == "COMPLETED" and clock.now == 10


@pytest.mark.parametrize("final", ["FAILED", "TIMEDOUT", "ABORTED", "SKIPPED_FAILED"])
def test_failed_states_fail_with_hosts_and_stderr(final):
    clock = Clock()
    with pytest.raises(AmbariError) as err:
        wait_for_request(Requests(["IN_PROGRESS", final]), "c1", 7, 60, 5, clock=clock, sleeper=clock.sleep)
    assert f"ended {final}" in err.value.msg
    assert "wn1 KAFKA_BROKER FAILED" in err.value.msg and "BindException" in err.value.msg
    assert err.value.details["failed_tasks"] == [{"host": "wn1", "role": "KAFKA_BROKER", "status": "FAILED"}]


def test_only_the_last_lines_of_stderr_are_kept():
    clock = Clock()
    stderr = "\n".join(f"line {i}" for i in range(100))
    with pytest.raises(AmbariError) as err:
        wait_for_request(Requests(["FAILED"], stderr), "c1", 7, 60, 5, clock=clock, sleeper=clock.sleep)
    assert "line 99" in err.value.msg and "line 91" not in err.value.msg


def test_timeout_is_bounded_by_the_clock_and_names_the_last_state():
    clock = Clock()
    client = Requests(["IN_PROGRESS"])
    with pytest.raises(AmbariError) as err:
        wait_for_request(client, "c1", 7, timeout=30, sleep=7, clock=clock, sleeper=clock.sleep)
    assert err.value.msg.startswith("Timed out after 30s waiting for Ambari request 7 (Restart Kafka) on c1")
    assert "last state: IN_PROGRESS, 35%" in err.value.msg
    assert clock.now == 30  # the last sleep is cut to the deadline


HC = [HostComponent("wn1", "KAFKA_BROKER", "STARTED", True, "OFF"),
      HostComponent("wn0", "KAFKA_BROKER", "STARTED", False, "OFF"),
      HostComponent("wn2", "KAFKA_BROKER", "INSTALLED", True, "IMPLIED_FROM_HOST"),
      HostComponent("wn3", "KAFKA_BROKER", "STARTED", True, "IMPLIED_FROM_SERVICE")]


def test_plan_restarts_stale_only_and_skips_maintenance():
    todo = plan(HC, "restarted", "stale", None)
    assert [hc.host for hc in todo.act] == ["wn1", "wn3"]
    assert [hc.host for hc in todo.skipped] == ["wn2"]
    assert todo.service_in_maintenance
    assert [hc.host for hc in plan(HC, "restarted", "always", None).act] == ["wn1", "wn0", "wn3"]


def test_plan_start_and_stop_act_on_what_differs():
    assert [hc.host for hc in plan(HC, "started", "stale", None).act] == []
    assert [hc.host for hc in plan(HC, "stopped", "stale", None).act] == ["wn1", "wn0", "wn3"]
    assert plan(HC, "restarted", "stale", ["ZOOKEEPER_SERVER"]).act == ()


def test_rolling_batches_are_sorted_by_host():
    groups = batches(list(HC), 2)
    assert [[hc.host for hc in g] for g in groups] == [["wn1", "wn0"], ["wn2", "wn3"]]
    assert [[hc.host for hc in g] for g in batches(list(HC), 1)] == [["wn0"], ["wn1"], ["wn2"], ["wn3"]]


# --- rolling restarts: judging a request schedule from batch/batch_requests (issue 10) -----------------------------

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_schedules import (  # noqa: E402
    check_batches, schedule_requests, wait_schedule)

GROUPS = batches([HostComponent(h, "KAFKA_BROKER", "STARTED", True, "OFF") for h in ("wn0", "wn1", "wn2")], 1)


class Schedules:
    """GET answers in the shapes Ambari 2.7.8 (and 2.8, with request_id) give them; records every path."""

    def __init__(self, schedule_states=("COMPLETED",), requests=(), newest=40):
        self.states = list(schedule_states)
        self.requests = list(requests)
        self.newest = newest
        self.paths = []

    def get(self, path):
        self.paths.append(path)
        if "/request_schedules/" in path:
            status = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            return {"RequestSchedule": {"id": 3, "status": status, "batch": {"batch_requests": []}}}
        if "page_size=1&to=end" in path:
            return {"items": [{"Requests": {"id": self.newest}}]}
        if "/tasks?" in path:
            return {"items": [{"Tasks": {"host_name": "wn0", "role": "KAFKA_BROKER", "status": "FAILED",
                                         "stderr": "java.lang.IllegalArgumentException: bad listener"}}]}
        if "/requests/" in path:
            return {"Requests": {"id": int(path.split("/requests/")[1].split("?")[0]), "request_status": "ABORTED",
                                 "request_context": "rolling"}}
        return {"items": [{"Requests": r} for r in self.requests]}


def schedule(status, entries):
    return {"id": 3, "status": status, "batch": {"batch_requests": entries}}


def request(request_id, host, status="COMPLETED"):
    return {"id": request_id, "request_status": status, "resource_filters": [
        {"service_name": "KAFKA", "component_name": "KAFKA_BROKER", "hosts": [host]}]}


def test_every_batch_completed_gives_the_request_ids_in_batch_order():
    done = schedule("COMPLETED", [{"order_id": n, "request_status": "COMPLETED", "return_code": 202} for n in (3, 1, 2)])
    requests = [request(12, "wn2"), request(10, "wn0"), request(11, "wn1")]
    assert check_batches(Schedules(), "c1", done, GROUPS, requests) == {"request_ids": [10, 11, 12],
                                                                       "request_status": "COMPLETED"}


def test_a_completed_schedule_whose_first_batch_failed_names_every_host_left_as_it_was():
    """The 2.6/2.7 shape: the schedule COMPLETED, the later batches without status or code (Jackson NON_EMPTY)."""
    stopped = schedule("COMPLETED", [{"order_id": 1, "request_status": "FAILED", "return_code": 202},
                                     {"order_id": 2}, {"order_id": 3}])
    client = Schedules()
    with pytest.raises(AmbariError) as err:
        check_batches(client, "c1", stopped, GROUPS, [request(10, "wn0", "FAILED")])
    msg = err.value.msg
    assert "(Ambari reports the schedule COMPLETED)" in msg
    assert "batch 1 of 3 (wn0): Ambari request 10" in msg and "bad listener" in msg
    assert "batch 2 of 3 (wn1) never ran" in msg and "batch 3 of 3 (wn2) never ran" in msg
    assert err.value.details["failed_tasks"] == [{"host": "wn0", "role": "KAFKA_BROKER", "status": "FAILED"}]


def test_the_28_shape_with_request_ids_and_aborted_is_read_too():
    aborted = schedule("ABORTED", [{"order_id": 1, "request_id": 10, "request_status": "ABORTED", "return_code": 202},
                                   {"order_id": 2}, {"order_id": 3}])
    client = Schedules()
    with pytest.raises(AmbariError) as err:
        check_batches(client, "c1", aborted, GROUPS, [])
    assert "batch 1 of 3 (wn0): Ambari request 10 (rolling) on c1 ended ABORTED" in err.value.msg
    assert "c1/requests/10?fields=Requests/*" in " ".join(client.paths)


def test_a_refused_post_and_a_batch_without_request_are_named():
    odd = schedule("COMPLETED", [
        {"order_id": 1, "request_status": "COMPLETED", "return_code": 202},
        {"order_id": 2, "request_status": "FAILED", "return_code": 500, "response_message": "database is locked"},
        {"order_id": 3, "request_status": "COMPLETED", "return_code": 201}])
    with pytest.raises(AmbariError) as err:
        check_batches(Schedules(), "c1", odd, GROUPS, [request(10, "wn0")])
    assert "batch 2 of 3 (wn1): Ambari refused its request (HTTP 500: database is locked)" in err.value.msg
    assert "batch 3 of 3 (wn2): Ambari created no request for it (HTTP 201)" in err.value.msg
    assert err.value.details["request_ids"] == [10]


def test_the_schedules_requests_are_read_with_a_page_spanning_every_id_since_before():
    client = Schedules(newest=140)
    schedule_requests(client, "c1", 3, before=100)
    assert client.paths[-1].endswith("&page_size=40&to=end")
    assert "Requests/request_schedule/schedule_id=3" in client.paths[-1]
    far = Schedules(newest=100000)
    schedule_requests(far, "c1", 3, before=0)
    assert far.paths[-1].endswith("&page_size=1000&to=end")  # bounded


def test_waiting_for_a_schedule_is_bounded_by_the_clock():
    clock = Clock()
    with pytest.raises(AmbariError) as err:
        wait_schedule(Schedules(["SCHEDULED"]), "c1", 3, timeout=20, sleep=6, clock=clock, sleeper=clock.sleep)
    assert err.value.msg.startswith("Timed out after 20s waiting for the rolling restart (request schedule 3) on c1")
    assert clock.now == 20
    done = wait_schedule(Schedules(["SCHEDULED", "DISABLED"]), "c1", 3, 20, 6, clock=Clock(), sleeper=lambda s: None)
    assert done["status"] == "DISABLED"


class FailedBatches(Schedules):
    """Each request's failed task is on the host of its own batch (request 10 -> wn0, 11 -> wn1, ...)."""

    def get(self, path):
        if "/tasks?" in path:
            host = "wn%d" % (int(path.split("/requests/")[1].split("/")[0]) - 10)
            self.paths.append(path)
            return {"items": [{"Tasks": {"host_name": host, "role": "KAFKA_BROKER", "status": "FAILED",
                                         "stderr": "broker on %s did not start" % host}}]}
        return super().get(path)


def test_several_failed_batches_are_each_described_with_their_request():
    """failure_tolerance above 0: batches 1 and 2 failed and the schedule went on (2.6/2.7 BatchRequestJob counts
    failed tasks against the tolerance); each is named with its hosts, request id, status and failed task."""
    tolerated = schedule("COMPLETED", [{"order_id": 1, "request_status": "FAILED", "return_code": 202},
                                       {"order_id": 2, "request_status": "ABORTED", "return_code": 202},
                                       {"order_id": 3, "request_status": "COMPLETED", "return_code": 202}])
    requests = [request(10, "wn0", "FAILED"), request(11, "wn1", "ABORTED"), request(12, "wn2")]
    with pytest.raises(AmbariError) as err:
        check_batches(FailedBatches(), "c1", tolerated, GROUPS, requests)
    msg = err.value.msg
    assert "batch 1 of 3 (wn0): Ambari request 10 () on c1 ended FAILED:\nwn0 KAFKA_BROKER FAILED:\n" in msg
    assert "batch 2 of 3 (wn1): Ambari request 11 () on c1 ended ABORTED:\nwn1 KAFKA_BROKER FAILED:\n" in msg
    assert "not found" not in msg and "batch 3" not in msg
    assert err.value.details["request_ids"] == [10, 11, 12]
    assert [t["host"] for t in err.value.details["failed_tasks"]] == ["wn0", "wn1"]


# --- hosts Ambari leaves out: what it does for MASTER and SLAVE components (issue 10 review, item 11) -------------

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_services import left_out  # noqa: E402


def test_a_heartbeat_lost_master_is_not_said_to_be_left_out_of_a_restart():
    """apache/ambari release-2.7.8 (and release-2.6.2) AmbariCustomCommandExecutionHelper.filterUnhealthHostItem
    drops a heartbeat-lost host only for a non-MASTER component of a SERVICE-level request naming several
    components; ActionScheduler.isHostStateUnknown -> ActionDBAccessorImpl.timeoutHostRole(hostUnknownState) ABORTS
    the task of a MASTER there (KAFKA_BROKER is a MASTER: common-services/KAFKA/0.8.1/metainfo.xml)."""
    lost = HostComponent("wn1", "KAFKA_BROKER", "UNKNOWN", True, "OFF")
    error = left_out("c1", "RESTART", [lost], [lost], {"KAFKA_BROKER": "MASTER"})
    assert ("wn1/KAFKA_BROKER: its ambari-agent lost heartbeat (state UNKNOWN), but Ambari does not leave "
            "KAFKA_BROKER, a MASTER component, out of a RESTART (on a heartbeat-lost host its task is ABORTED and "
            "the request fails)") in error.msg
    assert "hosts whose agent lost heartbeat" not in error.msg


def test_left_out_slave_start_stop_and_maintenance_say_what_ambari_does():
    slave = HostComponent("wn2", "KAFKA_AGENT", "UNKNOWN", True, "OFF")
    assert ("wn2/KAFKA_AGENT: its ambari-agent lost heartbeat (state UNKNOWN): Ambari leaves a SLAVE component of "
            "such a host out of a RESTART that names several components") in left_out(
        "c1", "RESTART", [slave], [slave], {"KAFKA_AGENT": "SLAVE"}).msg
    stopped = HostComponent("wn1", "KAFKA_BROKER", "UNKNOWN", False, "OFF")
    assert ("wn1/KAFKA_BROKER: its ambari-agent lost heartbeat (state UNKNOWN): Ambari leaves it out of a stop"
            in left_out("c1", "stop", [stopped], [stopped], {"KAFKA_BROKER": "MASTER"}).msg)
    held = HostComponent("wn0", "KAFKA_BROKER", "STARTED", True, "IMPLIED_FROM_HOST")
    msg = left_out("c1", "RESTART", [held], [held], {}).msg
    assert "wn0/KAFKA_BROKER: in maintenance mode (IMPLIED_FROM_HOST): Ambari leaves it out" in msg
    assert msg.endswith("Bring the hosts back (maintenance mode off, ambari-agent running: Ambari's Hosts page), "
                        "then run again")
