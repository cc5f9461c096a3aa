"""Requests, tasks and request schedules (reference §8-§10): what Ambari's server and agents do.

A request is a list of stages; the tasks of a stage run in parallel, stages one after another,
and a failed stage aborts the stages after it. Each task acts on a host through a HostAgent.

A host's ambari-agent can be stopped (`kafka-lab agent stop HOST`, a marker file beside the cluster's
state): Ambari then reports the host HEARTBEAT_LOST and its components UNKNOWN, and acts as its
HeartbeatMonitor, ActionScheduler and request builders do for such hosts.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
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
BATCH_STATUS_INTERVAL_S = 0.2  # BatchRequestJob's statusCheckInterval
# Component categories of the stack (common-services/KAFKA/0.8.1/metainfo.xml: KAFKA_BROKER is a MASTER).
MASTER_COMPONENTS = ("KAFKA_BROKER",)
AGENT_STOPPED_DIR = "agent-stopped"
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


def agent_marker(state_path: Path, host: str) -> Path:
    """The file that says a host's ambari-agent is stopped (beside the cluster's state.json)."""
    return state_path.parent / AGENT_STOPPED_DIR / host


class Operations:
    def __init__(self, model: ClusterModel, agent: HostAgent) -> None:
        self.model = model
        self.agent = agent
        self.transitions: dict[str, str] = {}  # host -> STARTING | STOPPING while a task runs
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix=f"tasks-{model.spec.name}")

    # --- live state -----------------------------------------------------------------------------

    def heartbeat_lost(self, host: str) -> bool:
        return agent_marker(self.model.path, host).exists()

    def component_state(self, host: str) -> str:
        if host in self.transitions:
            return self.transitions[host]
        if self.heartbeat_lost(host):
            return "UNKNOWN"  # HeartbeatMonitor.handleHeartbeatLost: every non-client component
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
            # ServiceResourceProvider.updateServices ignores UNKNOWN (heartbeat-lost) host components, and
            # addStages creates no command for a HEARTBEAT_LOST host: both silently.
            todo = [(h, c) for h, c in pairs if self.maintenance(h, c) in ALLOWED_MAINTENANCE[level_name]
                    and self.component_state(h) not in (target, "UNKNOWN")]
            for host, component in pairs:
                if not self.heartbeat_lost(host):  # an ignored UNKNOWN one keeps its desired state
                    self.model.state["host_components"][host][component]["desired_state"] = target
            if not todo:
                self.model.state["next_request_id"] += 1  # an id is allocated all the same
                self.model.save()
                return None
            command = "START" if target == "STARTED" else "STOP"
            return self._create(context, level, [], [[(h, c, command, None) for h, c in todo]], user, None)

    def post_request(self, body: dict, user: str, schedule_id: int | None = None) -> int | None:
        """POST /clusters/C/requests with a custom command (RESTART) and resource filters: the new request's id, or
        None when every host was left out (no stage: 201 with an empty body)."""
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
                # AmbariCustomCommandExecutionHelper.addCustomCommandAction: hosts in maintenance are dropped, then
                # unhealthy ones (filterUnhealthHostItem: only for a non-master component, SERVICE level and more
                # than one filter); an error only when nothing was dropped and nothing is left.
                ignored = [h for h in hosts if self.maintenance(h, component) not in ALLOWED_MAINTENANCE[level_name]]
                candidates = [h for h in hosts if h not in ignored]
                unhealthy = [h for h in candidates if self.heartbeat_lost(h) and component not in MASTER_COMPONENTS
                             and level_name == "SERVICE" and len(filters) > 1]
                eligible = [h for h in candidates if h not in unhealthy]
                if not ignored and not unhealthy and not eligible:
                    raise internal(f"While building the RESTART custom command for {service}/{component}, "
                                   "there were no healthy eligible hosts")
                stage += [(h, component, "CUSTOM_COMMAND", "RESTART") for h in eligible]
                for h in eligible:
                    self.model.state["host_components"][h][component]["desired_state"] = "STARTED"
            resource_filters = [{"service_name": f.get("service_name", "KAFKA"),
                                 "component_name": f.get("component_name", "KAFKA_BROKER"),
                                 "hosts": [h.strip() for h in str(f.get("hosts", "")).split(",") if h.strip()]}
                                for f in filters]
            if not stage:  # RoleGraph makes no stage, RequestStageContainer persists no request
                self.model.state["next_request_id"] += 1  # the id was allocated all the same
                self.model.save()
                return None
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
            if self.heartbeat_lost(host):
                # ActionScheduler.isHostStateUnknown -> timeoutHostRole(hostUnknownState=true): ABORTED, no output.
                task.update(status="ABORTED", end_time=now_ms())
                self.model.save()
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
    # Ambari 2.6.2 and 2.7.8 alike (RequestExecution, ExecutionScheduleManager, BatchRequestJob,
    # AbstractLinearExecutionJob): a schedule is SCHEDULED, COMPLETED or DISABLED, nothing else; batches run in
    # order_id order; a batch whose POST is refused is recorded FAILED with its return code and message, has no
    # request and does not count against the tolerance; once the failed tasks of all batches so far exceed
    # task_failure_tolerance (none given: no limit) the chain ends, and the schedule is still marked COMPLETED.
    # ABORTED, PAUSED, task_failure_tolerance_per_batch and pause_after_first_batch are Ambari 2.8 (AMBARI-24733).

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
                "batch_settings": {  # RequestScheduleResourceProvider reads these two keys only
                    "batch_separation_in_seconds": _int_or_none(settings.get("batch_separation_in_seconds")),
                    "task_failure_tolerance_limit": _int_or_none(settings.get("task_failure_tolerance"))},
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
        tolerance = settings["task_failure_tolerance_limit"]
        failed_total = 0
        ordered = sorted(schedule["batch_requests"], key=lambda r: r["order_id"])
        for n, batch in enumerate(ordered):
            if schedule["status"] != "SCHEDULED":
                return  # DELETE disabled it: deleteAllJobs, no later batch runs
            failed_total += self._run_batch_request(schedule, batch, user, schedule_id)
            if tolerance is not None and failed_total > tolerance:
                break  # hasToleranceThresholdExceeded: the chain ends, finalizeBatch marks it COMPLETED
            if n + 1 < len(ordered):
                time.sleep(settings["batch_separation_in_seconds"] or 0)
        with self.model.lock:
            if schedule["status"] == "SCHEDULED":
                schedule["status"] = "COMPLETED"
            self.model.save()

    def _run_batch_request(self, schedule: dict, batch: dict, user: str, schedule_id: int) -> int:
        """executeBatchRequest, then BatchRequestJob's polling: the failed, aborted and timed-out tasks it added."""
        uri = (batch["request_uri"] or "").strip("/").removeprefix("api/v1/")
        try:
            if batch["request_type"] != "POST" or uri != f"clusters/{self.model.spec.name}/requests":
                raise bad_request(f"The lab's request schedules run POST /clusters/{self.model.spec.name}/requests "
                                  f"only, not {batch['request_type']} {batch['request_uri']}")
            try:
                body = json.loads(batch["request_body"] or "{}")
            except ValueError as exc:
                raise bad_request(f"Invalid Request: Malformed Request Body.  An exception occurred parsing the "
                                  f"request body: {exc}") from None
            request_id = self.post_request(body if isinstance(body, dict) else {}, user, schedule_id)
        except ApiError as exc:
            self._record(schedule, batch, "FAILED", return_code=exc.status, response_message=exc.message)
            return 0  # no request id: nothing to wait for, nothing counted
        if request_id is None:  # 201 with an empty body: convertToBatchRequestResponse says COMPLETED
            self._record(schedule, batch, "COMPLETED", return_code=201)
            return 0
        self._record(schedule, batch, "Accepted", return_code=202, request_id=request_id)
        request = self.request(str(request_id))
        deadline = time.monotonic() + BATCH_REQUEST_TIMEOUT_S
        summary = self.summary(request)
        while not (summary["status"] in TERMINAL and request["end_time"] != -1):
            if time.monotonic() > deadline:  # the lab's own bound; Ambari's job polls for as long as it takes
                self.abort(str(request_id), f"batch request did not finish within {BATCH_REQUEST_TIMEOUT_S:.0f}s")
                return summary["task_count"]
            time.sleep(BATCH_STATUS_INTERVAL_S)
            summary = self.summary(request)
            self._record(schedule, batch, summary["status"])
        return summary["failed_task_count"] + summary["aborted_task_count"] + summary["timed_out_task_count"]

    def _record(self, schedule: dict, batch: dict, status: str, **fields: object) -> None:
        """RequestExecutionImpl.updateBatchRequest: the batch's status (and code, message, id), and the schedule's
        last_execution_status."""
        with self.model.lock:
            batch.update(request_status=status, **fields)
            schedule["last_execution_status"] = status
            self.model.save()

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


def _int_or_none(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f"Request Schedule batch json is unparseable: {value!r} is not a number") from None


def _body_text(body: object) -> str | None:
    if body is None:
        return None
    return body if isinstance(body, str) else json.dumps(body)
