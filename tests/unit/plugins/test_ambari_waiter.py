"""Request waiting: bounded by a (fake) monotonic clock, failures carry hosts and stderr."""
from __future__ import annotations

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari import AmbariError, wait_for_request
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari_services import (
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
