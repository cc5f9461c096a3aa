# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ambari_service's work: start, stop, or restart (only what is stale, optionally broker by broker).

The plan (which host components to act on) is computed from one read before anything is sent, so check mode
reports exactly what the real run does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari import (
    AmbariError, cluster_path, request_failed, resolve_cluster, wait_for_request)

# With operation_level SERVICE, Ambari still skips host components whose host (or themselves) are in maintenance.
SKIPPED_MAINTENANCE = ("ON", "IMPLIED_FROM_HOST", "IMPLIED_FROM_SERVICE_AND_HOST")
SERVICE_MAINTENANCE = ("IMPLIED_FROM_SERVICE", "IMPLIED_FROM_SERVICE_AND_HOST")
TARGET = {"started": "STARTED", "stopped": "INSTALLED"}
SCHEDULE_DONE = ("COMPLETED", "ABORTED", "DISABLED", "FAILED")


@dataclass(frozen=True)
class HostComponent:
    host: str
    component: str
    state: str
    stale: bool
    maintenance: str

    def as_dict(self):
        return {"host": self.host, "component": self.component}


def read_host_components(client, cluster, service):
    path = cluster_path(cluster, "host_components") + (
        "?HostRoles/service_name=%s&fields=HostRoles/state,HostRoles/stale_configs,HostRoles/maintenance_state"
        % service)
    items = (client.get(path) or {}).get("items") or []
    if not items:
        client.get(cluster_path(cluster, "services", service))  # a missing service gets Ambari's 404 message
    return [HostComponent(i["HostRoles"]["host_name"], i["HostRoles"]["component_name"], i["HostRoles"]["state"],
                          bool(i["HostRoles"].get("stale_configs")), i["HostRoles"].get("maintenance_state", "OFF"))
            for i in items]


@dataclass(frozen=True)
class Plan:
    act: tuple  # HostComponents to restart, start or stop
    skipped: tuple  # HostComponents Ambari would skip (maintenance mode)
    service_in_maintenance: bool


def plan(host_components, state, restart, components, also_stale=()):
    """Pure: which host components the run acts on.

    `also_stale`: (host, component) pairs to treat as stale, e.g. what ambari_config reported it would make stale
    in check mode, where nothing was written and Ambari reports nothing stale yet.
    """
    extra = set(also_stale)
    host_components = [hc if (hc.host, hc.component) not in extra else HostComponent(
        hc.host, hc.component, hc.state, True, hc.maintenance) for hc in host_components]
    chosen = [hc for hc in host_components if not components or hc.component in components]
    if state == "restarted":
        wanted = [hc for hc in chosen if restart == "always" or hc.stale]
    else:
        wanted = [hc for hc in chosen if hc.state != TARGET[state]]
    act = tuple(hc for hc in wanted if hc.maintenance not in SKIPPED_MAINTENANCE)
    skipped = tuple(hc for hc in wanted if hc.maintenance in SKIPPED_MAINTENANCE)
    return Plan(act, skipped, any(hc.maintenance in SERVICE_MAINTENANCE for hc in chosen))


def batches(host_components, size):
    """Rolling order: hosts sorted, all of a host's components in one batch, `size` hosts per batch."""
    hosts = sorted({hc.host for hc in host_components})
    return [[hc for hc in host_components if hc.host in hosts[i:i + size]] for i in range(0, len(hosts), size)]


def _filters(service, host_components):
    by_component = {}
    for hc in host_components:
        by_component.setdefault(hc.component, []).append(hc.host)
    return [{"service_name": service, "component_name": comp, "hosts": ",".join(sorted(hosts))}
            for comp, hosts in sorted(by_component.items())]


def run_ambari_service(module, client):
    p = module.params
    cluster = resolve_cluster(client, p["cluster"])
    service = p["service"]
    found = read_host_components(client, cluster, service)
    unknown = sorted(set(p["components"] or []) - {hc.component for hc in found})
    if unknown:
        raise AmbariError("Cannot change service '%s' on %s: it has no component %s (it has %s)"
                          % (service, cluster, ", ".join(unknown), ", ".join(sorted({hc.component for hc in found}))))
    also = [(c["host"], c["component"]) for c in p["stale_components"] or []]
    todo = plan(found, p["state"], p["restart"], p["components"], also)
    key = {"restarted": "restarted", "started": "started", "stopped": "stopped"}[p["state"]]
    result = {"changed": bool(todo.act), "cluster": cluster, "service": service, "state": p["state"],
              key: [hc.as_dict() for hc in todo.act], "skipped": [hc.as_dict() for hc in todo.skipped],
              "rolling": p["rolling"] and p["state"] == "restarted", "request_ids": []}
    if todo.skipped:
        module.warn("Skipping %s on %s: in maintenance mode (Ambari does not act on them); turn maintenance off to "
                    "include them" % (", ".join("%s/%s" % (hc.host, hc.component) for hc in todo.skipped), cluster))
    if todo.service_in_maintenance and todo.act:
        module.warn("Service %s on %s is in maintenance mode; acting anyway because the request is sent with "
                    "operation_level SERVICE" % (service, cluster))
    if not todo.act or module.check_mode:
        return result
    level = {"level": "SERVICE", "cluster_name": cluster, "service_name": service}
    try:
        if p["state"] == "restarted" and p["rolling"]:
            result.update(_rolling_restart(module, client, cluster, service, todo.act, level))
        elif p["state"] == "restarted":
            body = {"RequestInfo": {"command": "RESTART", "operation_level": level,
                                    "context": p["context"] or "Restart %s (ansible)" % service},
                    "Requests/resource_filters": _filters(service, todo.act)}
            request_id = client.post(cluster_path(cluster, "requests"), body)[1]["Requests"]["id"]
            result["request_ids"] = [request_id]
            _wait(module, client, cluster, request_id, result)
        else:
            result.update(_set_state(module, client, cluster, service, todo.act, level))
    except AmbariError as exc:
        exc.details.setdefault("changed", True)  # something may have been stopped or restarted: say so
        raise
    return result


def _wait(module, client, cluster, request_id, result):
    if module.params["wait"]:
        info = wait_for_request(client, cluster, request_id, module.params["wait_timeout"], module.params["wait_sleep"])
        result["request_status"] = info["request_status"]


def _set_state(module, client, cluster, service, act, level):
    p = module.params
    target = TARGET[p["state"]]
    context = p["context"] or "%s %s (ansible)" % ("Start" if target == "STARTED" else "Stop", service)
    info = {"context": context, "operation_level": level}
    if p["components"]:
        path = cluster_path(cluster, "host_components") + "?HostRoles/service_name=%s&HostRoles/component_name.in(%s)" % (
            service, ",".join(sorted({hc.component for hc in act})))
        body = {"RequestInfo": info, "Body": {"HostRoles": {"state": target}}}
    else:
        path = cluster_path(cluster, "services", service)
        body = {"RequestInfo": info, "Body": {"ServiceInfo": {"state": target}}}
    status, data = client.put(path, body)
    out = {"request_ids": []}
    if status == 202:
        request_id = data["Requests"]["id"]
        out["request_ids"] = [request_id]
        _wait(module, client, cluster, request_id, out)
    return out


def _rolling_restart(module, client, cluster, service, act, level):
    """A request schedule, one batch per `batch_size` hosts, as Ambari's UI sends a rolling restart."""
    p = module.params
    groups = batches(list(act), p["batch_size"])
    requests = []
    for n, group in enumerate(groups, start=1):
        requests.append({"order_id": n, "type": "POST", "uri": "/clusters/%s/requests" % cluster,
                         "RequestBodyInfo": {"RequestInfo": {
                             "context": "_PARSE_.ROLLING-RESTART.%s.%d.%d" % (service, n, len(groups)),
                             "command": "RESTART", "operation_level": level},
                             "Requests/resource_filters": _filters(service, group)}})
    settings = {"batch_separation_in_seconds": p["batch_separation"], "task_failure_tolerance": p["failure_tolerance"]}
    body = [{"RequestSchedule": {"batch": [{"requests": requests}, {"batch_settings": settings}]}}]
    created = client.post(cluster_path(cluster, "request_schedules"), body)[1]
    schedule_id = created["resources"][0]["RequestSchedule"]["id"]
    out = {"schedule_id": schedule_id, "batches": [[hc.as_dict() for hc in g] for g in groups]}
    if p["wait"]:
        out.update(_wait_schedule(module, client, cluster, schedule_id))
    return out


def _wait_schedule(module, client, cluster, schedule_id, clock=time.monotonic, sleeper=time.sleep):
    p = module.params
    deadline = clock() + p["wait_timeout"]
    path = cluster_path(cluster, "request_schedules", str(schedule_id))
    schedule = client.get(path)["RequestSchedule"]
    while schedule["status"] not in SCHEDULE_DONE:
        remaining = deadline - clock()
        if remaining <= 0:
            raise AmbariError("Timed out after %ss waiting for the rolling restart (request schedule %s) on %s "
                              "(last state: %s)" % (p["wait_timeout"], schedule_id, cluster, schedule["status"]),
                              schedule_id=schedule_id)
        sleeper(min(p["wait_sleep"], remaining))
        schedule = client.get(path)["RequestSchedule"]
    requests = (client.get(cluster_path(cluster, "requests") + "?Requests/request_schedule/schedule_id=%s"
                           "&fields=Requests/*" % schedule_id) or {}).get("items") or []
    infos = sorted((r["Requests"] for r in requests), key=lambda r: r["id"])
    if schedule["status"] != "COMPLETED":
        failed = [i for i in infos if i["request_status"] != "COMPLETED"]
        if failed:
            raise request_failed(client, cluster, failed[0])
        raise AmbariError("The rolling restart (request schedule %s) on %s ended %s"
                          % (schedule_id, cluster, schedule["status"]), schedule_id=schedule_id)
    return {"request_ids": [i["id"] for i in infos], "request_status": "COMPLETED"}
