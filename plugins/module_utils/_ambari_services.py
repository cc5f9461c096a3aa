# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ambari_service's work: start, stop, or restart (only what is stale, optionally broker by broker).

The plan (which host components to act on) is computed from one read before anything is sent, so check mode
reports exactly what the real run does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import (
    AmbariError, WriteUnanswered, cluster_path, dig, host_roles, objects, resolve_cluster, wait_for_request)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_schedules import (
    check_batches, newest_request_id, schedule_requests, wait_schedule)

# With operation_level SERVICE, Ambari still skips host components whose host (or themselves) are in maintenance.
SKIPPED_MAINTENANCE = ("ON", "IMPLIED_FROM_HOST", "IMPLIED_FROM_SERVICE_AND_HOST")
SERVICE_MAINTENANCE = ("IMPLIED_FROM_SERVICE", "IMPLIED_FROM_SERVICE_AND_HOST")
TARGET = {"started": "STARTED", "stopped": "INSTALLED"}


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
    items = objects(client.get(path), "items", default=[], what="the service's host components")
    if not items:
        client.get(cluster_path(cluster, "services", service))  # a missing service gets Ambari's 404 message
    roles = [host_roles(i) for i in items]
    for r in roles:
        dig(r, "state", want=str, what="a host component's state")
    return [HostComponent(r["host_name"], r["component_name"], r["state"], bool(r.get("stale_configs")),
                          r.get("maintenance_state", "OFF")) for r in roles]


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


def check_params(p):
    """The options Ansible cannot check itself; returns the stale_components as (host, component) pairs."""
    for name, low, what in (("batch_size", 1, "hosts per batch of a rolling restart"),
                            ("batch_separation", 0, "seconds between two batches"),
                            ("failure_tolerance", 0, "failed tasks a rolling restart tolerates")):
        if p[name] < low:
            raise AmbariError("%s must be %d or more (%s); got %s" % (name, low, what, p[name]))
    pairs = []
    for n, item in enumerate(p["stale_components"] or []):
        host, component = item.get("host"), item.get("component")
        if not (isinstance(host, str) and host and isinstance(component, str) and component):
            raise AmbariError("stale_components[%d] must name a host and a component, like {host: wn0.example.com, "
                              "component: KAFKA_BROKER} (pass the stale_components that ambari_config returned); "
                              "got %r" % (n, item))
        pairs.append((host, component))
    return pairs


def run_ambari_service(module, client):
    p = module.params
    also = check_params(p)
    cluster = resolve_cluster(client, p["cluster"])
    service = p["service"]
    found = read_host_components(client, cluster, service)
    unknown = sorted(set(p["components"] or []) - {hc.component for hc in found})
    if unknown:
        raise AmbariError("Cannot change service '%s' on %s: it has no component %s (it has %s)"
                          % (service, cluster, ", ".join(unknown), ", ".join(sorted({hc.component for hc in found}))))
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
            path = cluster_path(cluster, "requests")
            request_id = _request_id(client.post(path, body)[1], client.where("POST", path))
            if request_id is None:  # 201 without a request: Ambari left every host out
                raise left_out(cluster, "RESTART", read_host_components(client, cluster, service), todo.act,
                               component_categories(client, cluster, service))
            result["request_ids"] = [request_id]
            _wait(module, client, cluster, request_id, result)
        else:
            result.update(_set_state(module, client, cluster, service, todo.act, level))
        if p["wait"]:
            verify_acted(client, cluster, service, p["state"], todo.act)
    except WriteUnanswered as exc:
        raise AmbariError("%s. Look for it in Ambari's operations list (Background Operations) before running again"
                          % exc.msg, changed=True, **exc.details) from None
    except AmbariError as exc:
        exc.details.setdefault("changed", True)  # something may have been stopped or restarted: say so
        raise
    return result


def _request_id(answer, where):
    """The id of the request a 202 created, or None (200/201 with an empty body: Ambari created none)."""
    if answer is None or (isinstance(answer, dict) and "Requests" not in answer):
        return None
    return dig(answer, "Requests", "id", want=int, where=where, what="the id of the request it created")


def verify_acted(client, cluster, service, state, acted):
    """Re-read the host components acted on: Ambari leaves some out without an error, so a host still stale after a
    RESTART, or not in the target state after a start or stop, was not acted on (or not successfully). (A restart of
    a host component that was not stale, restart: always, leaves nothing to compare.)"""
    now = {(hc.host, hc.component): hc for hc in read_host_components(client, cluster, service)}
    missed = []
    for hc in acted:
        after = now.get((hc.host, hc.component))
        if after is None:
            continue
        if (state == "restarted" and hc.stale and after.stale) or (state != "restarted" and after.state != TARGET[state]):
            missed.append(after)
    if missed:
        raise left_out(cluster, {"restarted": "RESTART", "started": "start", "stopped": "stop"}[state],
                       list(now.values()), missed, component_categories(client, cluster, service))


def component_categories(client, cluster, service):
    """{component: MASTER|SLAVE|CLIENT} of the service, for messages only ({} if Ambari does not say)."""
    path = cluster_path(cluster, "services", service, "components") + "?fields=ServiceComponentInfo/category"
    try:
        items = client.get(path).get("items") or []
        return {i["ServiceComponentInfo"]["component_name"]: i["ServiceComponentInfo"].get("category")
                for i in items if isinstance(i, dict) and isinstance(i.get("ServiceComponentInfo"), dict)}
    except (AmbariError, KeyError, TypeError):
        return {}


def left_out(cluster, command, current, missed, categories=None):
    """The AmbariError naming host components Ambari did not act on, and why, as far as Ambari's source says.

    Maintenance mode leaves a host component out of any command. A heartbeat-lost host (its components UNKNOWN) is
    left out of a start or stop (ServiceResourceProvider.updateServices ignores UNKNOWN), but of a RESTART only for a
    non-MASTER component when the request names several components (AmbariCustomCommandExecutionHelper
    .filterUnhealthHostItem); a MASTER's task there, KAFKA_BROKER's, is ABORTED by ActionScheduler and the request
    fails, so a MASTER still stale after a completed RESTART lost heartbeat afterwards, or did not take the configs.
    """
    categories = categories or {}
    now = {(hc.host, hc.component): hc for hc in current}
    missed = sorted(missed, key=lambda h: (h.host, h.component))
    lines = []
    for hc in missed:
        after = now.get((hc.host, hc.component), hc)
        category = categories.get(hc.component)
        if after.maintenance != "OFF":
            why = "in maintenance mode (%s): Ambari leaves it out" % after.maintenance
        elif after.state == "UNKNOWN" and command == "RESTART" and category == "MASTER":
            why = ("its ambari-agent lost heartbeat (state UNKNOWN), but Ambari does not leave %s, a MASTER component, "
                   "out of a RESTART (on a heartbeat-lost host its task is ABORTED and the request fails): the agent "
                   "stopped after the restart, or the restart did not clear the stale configs; check the host"
                   % hc.component)
        elif after.state == "UNKNOWN" and command == "RESTART":
            why = ("its ambari-agent lost heartbeat (state UNKNOWN): Ambari leaves a %s component of such a host out "
                   "of a RESTART that names several components" % (category or "non-MASTER"))
        elif after.state == "UNKNOWN":
            why = "its ambari-agent lost heartbeat (state UNKNOWN): Ambari leaves it out of a %s" % command
        else:
            why = "state %s%s" % (after.state, ", configs still stale" if after.stale else "")
        lines.append("%s/%s: %s" % (hc.host, hc.component, why))
    return AmbariError("Ambari accepted the %s on %s but left out %s without an error:\n%s\nBring the hosts "
                       "back (maintenance mode off, ambari-agent running: Ambari's Hosts page), then run again"
                       % (command, cluster, ", ".join(sorted({hc.host for hc in missed})), "\n".join(lines)),
                       left_out=[hc.as_dict() for hc in missed])


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
    request_id = _request_id(client.put(path, body)[1], client.where("PUT", path))
    out = {"request_ids": []}
    if request_id is not None:
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
    before = newest_request_id(client, cluster) if p["wait"] else 0
    path = cluster_path(cluster, "request_schedules")
    created = client.post(path, body)[1]
    try:
        schedule_id = dig(created, "resources", 0, "RequestSchedule", "id", want=int, where=client.where("POST", path),
                          what="the request schedule it created")
    except AmbariError as exc:
        raise AmbariError("%s The rolling restart may have been scheduled: look for it in Ambari's operations list "
                          "before running again" % exc.msg) from None
    out = {"schedule_id": schedule_id, "batches": [[hc.as_dict() for hc in g] for g in groups]}
    if p["wait"]:
        schedule = wait_schedule(client, cluster, schedule_id, p["wait_timeout"], p["wait_sleep"])
        found = schedule_requests(client, cluster, schedule_id, before)
        out.update(check_batches(client, cluster, schedule, groups, found))
    return out
