"""Requests, tasks and request schedules (reference §8-§10): what Ambari's server and agents do.

A request is a list of stages; the tasks of a stage run in parallel, stages one after another,
and a failed stage aborts the stages after it. Each task acts on a host through a HostAgent.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from kafka_lab.ambari.errors import ApiError, bad_request, internal, not_found
from kafka_lab.ambari.model import COMPONENTS, ClusterModel, now_ms
from kafka_lab.broker import TaskFailed

TERMINAL = ("COMPLETED", "FAILED", "TIMEDOUT", "ABORTED", "SKIPPED_FAILED")
FAILED = ("FAILED", "TIMEDOUT", "ABORTED", "SKIPPED_FAILED")
VALID_DESIRED = ("INIT", "INSTALLED", "STARTED", "UNINSTALLED", "DISABLED")
ALL_STATES = ("INIT", "INSTALLING", "INSTALL_FAILED", "INSTALLED", "STARTING", "STARTED", "STOPPING",
              "UNINSTALLING", "UNINSTALLED", "WIPING_OUT", "UPGRADING", "DISABLED", "UNKNOWN")
BATCH_REQUEST_TIMEOUT_S = 3600.0
LEVELS = ("CLUSTER", "SERVICE", "HOST", "HOST_COMPONENT")
# Which effective maintenance states each operation level lets through (MaintenanceStateHelper).
ALLOWED_MAINTENANCE = {"CLUSTER": ("OFF",), "SERVICE": ("OFF", "IMPLIED_FROM_SERVICE"),
                       "HOST": ("OFF", "IMPLIED_FROM_HOST"),
                       "HOST_COMPONENT": ("OFF", "ON", "IMPLIED_FROM_HOST", "IMPLIED_FROM_SERVICE",
                                          "IMPLIED_FROM_SERVICE_AND_HOST")}


class HostAgent(Protocol):
    def running(self, host: str) -> bool: ...

    def start(self, host: str, configs: dict[str, dict[str, str]]) -> str: ...

    def stop(self, host: str) -> str: ...


class Operations:
    def __init__(self, model: ClusterModel, agent: HostAgent) -> None:
        self.model = model
        self.agent = agent
        self.transitions: dict[str, str] = {}  # host -> STARTING | STOPPING while a task runs
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix=f"tasks-{model.spec.name}")

    # --- live state -----------------------------------------------------------------------------

    def component_state(self, host: str) -> str:
        if host in self.transitions:
            return self.transitions[host]
        return "STARTED" if self.agent.running(host) else "INSTALLED"

    def maintenance(self, host: str, component: str) -> str:
        """The effective maintenance state Ambari reports for a host component."""
        st = self.model.state
        if st["host_components"][host][component]["maintenance_state"] == "ON":
            return "ON"
        on_host = st["hosts"][host]["maintenance_state"] == "ON"
        on_service = st["services"]["KAFKA"]["maintenance_state"] == "ON"
        if on_host and on_service:
            return "IMPLIED_FROM_SERVICE_AND_HOST"
        return "IMPLIED_FROM_HOST" if on_host else "IMPLIED_FROM_SERVICE" if on_service else "OFF"

    # --- creating requests ----------------------------------------------------------------------

    def set_service_state(self, service: str, state: str, level: dict | None, context: str, user: str) -> int | None:
        """PUT services/S ServiceInfo/state: 202 with a request, or None (200, nothing to do)."""
        self.model.require_service(service)
        with self.model.lock:
            if _level(level) == "CLUSTER" and self.model.state["services"][service]["maintenance_state"] == "ON":
                _desired_state(state)
                return None  # the maintenance-mode trap: silently skipped without operation_level
            pairs = [(h, c) for h in self.model.state["hosts"] for c in COMPONENTS[service]]
            return self.set_components_state(pairs, state, level, context, user)

    def set_components_state(self, pairs: list[tuple[str, str]], state: str, level: dict | None, context: str,
                             user: str) -> int | None:
        """Move host components to INSTALLED or STARTED: one stage of STOP or START tasks, or None."""
        target = _desired_state(state)
        if target not in ("INSTALLED", "STARTED"):
            raise internal(f"Invalid transition for service, clusterName={self.model.spec.name}, "
                           f"serviceName=KAFKA, currentDesiredState=STARTED, newDesiredState={target}")
        level_name = _level(level)
        with self.model.lock:
            todo = [(h, c) for h, c in pairs if self.maintenance(h, c) in ALLOWED_MAINTENANCE[level_name]
                    and self.component_state(h) != target]
            for host, component in pairs:
                self.model.state["host_components"][host][component]["desired_state"] = target
            if not todo:
                self.model.state["next_request_id"] += 1  # an id is allocated all the same
                self.model.save()
                return None
            command = "START" if target == "STARTED" else "STOP"
            return self._create(context, level, [], [[(h, c, command, None) for h, c in todo]], user, None)

    def post_request(self, body: dict, user: str, schedule_id: int | None = None) -> int:
        """POST /clusters/C/requests with a custom command (RESTART) and resource filters."""
        info = body.get("RequestInfo") or {}
        if info.get("command") and info.get("action"):
            raise internal("Both command and action cannot be specified.")
        command = info.get("command") or info.get("action")
        if not command:
            raise internal("Either command or action must be specified.")
        level = info.get("operation_level")
        if isinstance(level, dict) and not level.get("cluster_name"):
            raise bad_request("Cluster name must be specified in operation level")
        filters = body.get("Requests/resource_filters")
        if not filters:
            raise internal("Command execution cannot proceed without a resource filter.")
        if command != "RESTART":
            raise internal(f"Unsupported action {command} for Service: KAFKA and Component: KAFKA_BROKER")
        level_name = _level(level if isinstance(level, dict) else None)
        stage = []
        with self.model.lock:
            for f in filters:
                service, component = f.get("service_name", "KAFKA"), f.get("component_name", "KAFKA_BROKER")
                self.model.require_component(service, component)
                hosts = [h.strip() for h in str(f.get("hosts", "")).split(",") if h.strip()]
                for host in hosts:
                    self.model.require_host(host)
                eligible = [h for h in hosts if self.maintenance(h, component) in ALLOWED_MAINTENANCE[level_name]]
                if not eligible:
                    raise internal(f"While building the RESTART custom command for {service}/{component}, "
                                   "there were no healthy eligible hosts")
                stage += [(h, component, "CUSTOM_COMMAND", "RESTART") for h in eligible]
                for h in eligible:
                    self.model.state["host_components"][h][component]["desired_state"] = "STARTED"
            resource_filters = [{"service_name": f.get("service_name", "KAFKA"),
                                 "component_name": f.get("component_name", "KAFKA_BROKER"),
                                 "hosts": [h.strip() for h in str(f.get("hosts", "")).split(",") if h.strip()]}
                                for f in filters]
            return self._create(info.get("context", ""), level, resource_filters, [stage], user, schedule_id)

    def _create(self, context: str, level: dict | None, filters: list, stages: list[list[tuple]], user: str,
                schedule_id: int | None) -> int:
        st = self.model.state
        request_id = st["next_request_id"]
        st["next_request_id"] += 1
        stage_ids = []
        for stage_id, stage in enumerate(stages):
            ids = []
            for host, role, command, custom in stage:
                task_id = st["next_task_id"]
                st["next_task_id"] += 1
                detail = f"{custom} KAFKA/{role}" if custom else f"{role} {command}"
                st["tasks"][str(task_id)] = {
                    "id": task_id, "request_id": request_id, "stage_id": stage_id, "host_name": host,
                    "role": role, "command": command, "custom_command_name": custom, "command_detail": detail,
                    "status": "PENDING", "exit_code": 999, "stdout": "", "stderr": "", "start_time": -1,
                    "end_time": -1, "attempt_cnt": 0}
                ids.append(task_id)
            stage_ids.append(ids)
        st["requests"][str(request_id)] = {
            "id": request_id, "request_context": context, "create_time": now_ms(), "start_time": -1,
            "end_time": -1, "exclusive": False, "inputs": None, "type": "COMMAND", "user_name": user,
            "operation_level": _level(level) if level else None, "resource_filters": filters,
            "request_schedule_id": schedule_id, "stages": stage_ids, "abort_reason": None}
        self.model.save()
        threading.Thread(target=self._run, args=(request_id,), daemon=True,
                         name=f"request-{self.model.spec.name}-{request_id}").start()
        return request_id

    # --- executing requests ---------------------------------------------------------------------

    def _run(self, request_id: int) -> None:
        st = self.model.state
        request = st["requests"][str(request_id)]
        request["start_time"] = now_ms()
        for n, stage in enumerate(request["stages"]):
            tasks = [st["tasks"][str(t)] for t in stage]
            with self.model.lock:
                if any(t["status"] == "ABORTED" for t in tasks):
                    break
                for t in tasks:
                    t["status"] = "QUEUED"
            results = list(self.pool.map(self._run_task, tasks))
            if not all(results):
                with self.model.lock:
                    for later in request["stages"][n + 1:]:
                        for t in later:
                            st["tasks"][str(t)]["status"] = "ABORTED"
                break
        with self.model.lock:
            request["end_time"] = now_ms()
            self.model.save()

    def _run_task(self, task: dict) -> bool:
        host = task["host_name"]
        action = task["custom_command_name"] or task["command"]
        with self.model.lock:
            if task["status"] == "ABORTED":
                return False
            task.update(status="IN_PROGRESS", start_time=now_ms(), attempt_cnt=1)
            self.transitions[host] = "STOPPING" if action == "STOP" else "STARTING"
            configs = self.model.effective_configs(host)
        try:
            out = []
            if action in ("STOP", "RESTART"):
                out.append(self.agent.stop(host))
            if action in ("START", "RESTART"):
                out.append(self.agent.start(host, configs))
                self.model.started(host, task["role"])
            ok, stdout, stderr = True, "\n".join(out), ""
        except TaskFailed as exc:
            ok, stdout, stderr = False, "", str(exc)
        except Exception as exc:  # an agent bug must still end the task, as a failure with its reason
            ok, stdout, stderr = False, "", f"{type(exc).__name__}: {exc}"
        with self.model.lock:
            self.transitions.pop(host, None)
            task.update(status="COMPLETED" if ok else "FAILED", exit_code=0 if ok else 1,
                        stdout=stdout, stderr=stderr, end_time=now_ms())
            self.model.save()
        return ok

    def abort(self, request_id: str, reason: str) -> None:
        request = self.request(request_id)
        if not reason:
            raise bad_request("Abort reason can not be empty.")
        with self.model.lock:
            request["abort_reason"] = reason
            for stage in request["stages"]:
                for t in stage:
                    task = self.model.state["tasks"][str(t)]
                    if task["status"] in ("PENDING", "QUEUED"):
                        task["status"] = "ABORTED"
            self.model.save()

    def request(self, request_id: str) -> dict:
        request = self.model.state["requests"].get(str(request_id))
        if request is None:
            raise not_found("Request resource doesn't exist.")
        return request

    def summary(self, request: dict) -> dict:
        """Requests/* counts, status and progress as CalculatedStatus computes them."""
        tasks = [self.model.state["tasks"][str(t)] for stage in request["stages"] for t in stage]
        count = {s: sum(1 for t in tasks if t["status"] == s) for s in
                 ("PENDING", "QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED", "TIMEDOUT", "ABORTED")}
        done = sum(1 for t in tasks if t["status"] in TERMINAL)
        total = len(tasks)
        in_progress = total - done - count["QUEUED"] - count["PENDING"]
        progress = 100.0 if total == 0 else (0.09 * count["QUEUED"] + 0.35 * in_progress + done) / total * 100
        return {"status": _aggregate([[self.model.state["tasks"][str(t)]["status"] for t in stage]
                                      for stage in request["stages"]]),
                "task_count": total, "completed_task_count": done, "failed_task_count": count["FAILED"],
                "aborted_task_count": count["ABORTED"], "timed_out_task_count": count["TIMEDOUT"],
                "queued_task_count": count["QUEUED"], "progress_percent": progress}

    # --- request schedules (rolling restarts) ---------------------------------------------------

    def create_schedule(self, body: dict, user: str) -> int:
        schedule = body.get("RequestSchedule") or {}
        batches = schedule.get("batch") or []
        requests = [r for b in batches for r in (b.get("requests") or [])]
        settings = next((b["batch_settings"] for b in batches if "batch_settings" in b), {})
        if not requests:
            raise bad_request("Request schedule must contain at least one batch request")
        with self.model.lock:
            st = self.model.state
            schedule_id = st["next_schedule_id"]
            st["next_schedule_id"] += 1
            st["schedules"][str(schedule_id)] = {
                "id": schedule_id, "description": schedule.get("description"), "status": "SCHEDULED",
                "last_execution_status": None, "create_user": user, "schedule": schedule.get("schedule"),
                "batch_settings": {k: int(settings.get(k, 0)) for k in (
                    "batch_separation_in_seconds", "task_failure_tolerance", "task_failure_tolerance_per_batch")},
                "batch_requests": [{
                    "order_id": int(r.get("order_id", i + 1)), "request_type": r.get("type"),
                    "request_uri": r.get("uri"), "request_body": _body_text(r.get("RequestBodyInfo")),
                    "request_status": None, "return_code": None, "response_message": None, "request_id": None}
                    for i, r in enumerate(requests)]}
            self.model.save()
        threading.Thread(target=self._run_schedule, args=(schedule_id, user), daemon=True,
                         name=f"schedule-{self.model.spec.name}-{schedule_id}").start()
        return schedule_id

    def _run_schedule(self, schedule_id: int, user: str) -> None:
        schedule = self.model.state["schedules"][str(schedule_id)]
        settings = schedule["batch_settings"]
        failed_total = 0
        ordered = sorted(schedule["batch_requests"], key=lambda r: r["order_id"])
        for n, batch in enumerate(ordered):
            if schedule["status"] != "SCHEDULED":
                return
            failed = self._run_batch_request(batch, user, schedule_id)
            failed_total += failed
            if failed_total > settings["task_failure_tolerance"] or (
                    settings["task_failure_tolerance_per_batch"] and failed > settings["task_failure_tolerance_per_batch"]):
                with self.model.lock:
                    schedule.update(status="ABORTED", last_execution_status="ABORTED")
                    self.model.save()
                return
            if n + 1 < len(ordered):
                time.sleep(settings["batch_separation_in_seconds"])
        with self.model.lock:
            schedule.update(status="COMPLETED", last_execution_status="COMPLETED")
            self.model.save()

    def _run_batch_request(self, batch: dict, user: str, schedule_id: int) -> int:
        """Execute one batch request and wait for it; return its number of failed tasks."""
        uri = (batch["request_uri"] or "").strip("/").removeprefix("api/v1/")
        try:
            if batch["request_type"] != "POST" or uri != f"clusters/{self.model.spec.name}/requests":
                raise bad_request(f"The lab's request schedules run POST /clusters/{self.model.spec.name}/requests "
                                  f"only, not {batch['request_type']} {batch['request_uri']}")
            request_id = self.post_request(json.loads(batch["request_body"] or "{}"), user, schedule_id)
        except ApiError as exc:
            with self.model.lock:
                batch.update(return_code=exc.status, response_message=exc.message, request_status="FAILED")
                self.model.save()
            return 1
        with self.model.lock:
            batch.update(return_code=202, request_id=request_id, request_status="IN_PROGRESS")
        request = self.request(str(request_id))
        deadline = time.monotonic() + BATCH_REQUEST_TIMEOUT_S
        summary = self.summary(request)
        while not (summary["status"] in TERMINAL and request["end_time"] != -1):
            if time.monotonic() > deadline:
                self.abort(str(request_id), f"batch request did not finish within {BATCH_REQUEST_TIMEOUT_S:.0f}s")
                return summary["task_count"]
            time.sleep(0.2)
            summary = self.summary(request)
        with self.model.lock:
            batch["request_status"] = summary["status"]
            self.model.save()
        return summary["failed_task_count"] + summary["aborted_task_count"] + summary["timed_out_task_count"]

    def delete_schedule(self, schedule_id: str) -> None:
        schedule = self.schedule(schedule_id)
        with self.model.lock:
            schedule["status"] = "DISABLED"
            self.model.save()

    def schedule(self, schedule_id: str) -> dict:
        schedule = self.model.state["schedules"].get(str(schedule_id))
        if schedule is None:
            raise not_found(f"Request schedule not found, clusterName={self.model.spec.name}, id={schedule_id}")
        return schedule


def _aggregate(stages: list[list[str]]) -> str:
    """CalculatedStatus: per stage, then over stages."""
    per_stage = [_stage_status(s) for s in stages]
    return _stage_status(per_stage) if per_stage else "COMPLETED"


def _stage_status(statuses: list[str]) -> str:
    if not statuses:
        return "COMPLETED"
    if all(s == "PENDING" for s in statuses):
        return "PENDING"
    for s in ("FAILED", "TIMEDOUT"):
        if s in statuses:
            return s
    if "ABORTED" in statuses and not set(statuses) & {"PENDING", "QUEUED", "IN_PROGRESS"}:
        return "ABORTED"
    if all(s == "COMPLETED" for s in statuses):
        return "COMPLETED"
    return "IN_PROGRESS"


def _desired_state(state: str) -> str:
    if state in VALID_DESIRED:
        return state
    if state in ALL_STATES:
        raise bad_request(f"Invalid arguments, invalid desired state, desiredState={state}")
    raise bad_request(f"No enum constant org.apache.ambari.server.state.State.{state}")


def _level(level: dict | None) -> str:
    if not level:
        return "CLUSTER"
    name = str(level.get("level", "")).upper()
    if name not in LEVELS:
        raise bad_request(f"Invalid operation level: {level.get('level')}")
    return name


def _body_text(body: object) -> str | None:
    if body is None:
        return None
    return body if isinstance(body, str) else json.dumps(body)
