"""The resources a GET returns, built from a cluster's model (reference §2.3, §3-§11).

Each builder returns query.Resource objects: properties nested by category, key property paths,
absolute hrefs, and lazily built sub-resources; query.render turns them into Ambari's JSON.
"""
from __future__ import annotations

from typing import Any

from kafka_lab.ambari.model import COMPONENTS, ClusterModel
from kafka_lab.ambari.operations import Operations
from kafka_lab.ambari.query import Resource

DEFAULT_PAGE = 20


class Views:
    def __init__(self, model: ClusterModel, ops: Operations, base: str) -> None:
        self.m = model
        self.ops = ops
        self.base = base  # http://host:port/api/v1
        self.c = model.spec.name

    @property
    def cluster_href(self) -> str:
        return f"{self.base}/clusters/{self.c}"

    # --- cluster --------------------------------------------------------------------------------

    def cluster(self) -> Resource:
        st = self.m.state
        props = {"Clusters": {
            "cluster_id": st["cluster_id"], "cluster_name": self.c, "version": st["stack_id"],
            "provisioning_state": "INSTALLED", "security_type": "NONE", "state": "INSTALLED",
            "total_hosts": len(st["hosts"]), "desired_configs": self.m.desired_configs(),
            "desired_service_config_versions": {
                "KAFKA": [self._scv_brief(s) for s in st["scvs"] if s["service_name"] == "KAFKA"
                          and self.m.scv_is_current(s) and s["group_id"] == -1]},
            "health_report": {"Host/host_state/HEALTHY": len(st["hosts"]), "Host/maintenance_state": sum(
                1 for h in st["hosts"].values() if h["maintenance_state"] == "ON")}}}
        keys = ["Clusters/cluster_name"]
        if self.m.ambari_version == "2.6":
            keys.append("Clusters/version")  # r262 emits the stack version in every cluster response
        return Resource(self.cluster_href, props, keys, subs={
            "services": lambda: [self.service(s) for s in st["services"]],
            "hosts": lambda: [self.host(h) for h in st["hosts"]],
            "config_groups": lambda: [self.config_group(g) for g in st["config_groups"].values()],
            "requests": lambda: self.requests()[-DEFAULT_PAGE:],
        })

    def _scv_brief(self, scv: dict) -> dict:
        return {"serviceName": scv["service_name"], "serviceConfigVersion": scv["service_config_version"],
                "isCurrent": True, "groupId": scv["group_id"], "groupName": scv["group_name"]}

    # --- services, components, host components ----------------------------------------------------

    def service(self, name: str) -> Resource:
        states = [self.ops.component_state(h) for h in self.m.state["hosts"]]
        state = "STARTED" if states and all(s == "STARTED" for s in states) else (
            next((s for s in states if s in ("STARTING", "STOPPING")), "INSTALLED"))
        props = {"ServiceInfo": {"cluster_name": self.c, "service_name": name, "state": state,
                                 "maintenance_state": self.m.state["services"][name]["maintenance_state"]}}
        return Resource(f"{self.cluster_href}/services/{name}", props,
                        ["ServiceInfo/cluster_name", "ServiceInfo/service_name"],
                        subs={"components": lambda: [self.component(name, c) for c in COMPONENTS[name]]})

    def component(self, service: str, name: str) -> Resource:
        hosts = list(self.m.state["hosts"])
        states = [self.ops.component_state(h) for h in hosts]
        props = {"ServiceComponentInfo": {
            "cluster_name": self.c, "service_name": service, "component_name": name,
            "display_name": "Kafka Broker", "category": "MASTER",
            "state": "STARTED" if states and all(s == "STARTED" for s in states) else "INSTALLED",
            "total_count": len(hosts), "started_count": states.count("STARTED"),
            "installed_count": states.count("INSTALLED")}}
        return Resource(f"{self.cluster_href}/services/{service}/components/{name}", props,
                        ["ServiceComponentInfo/cluster_name", "ServiceComponentInfo/service_name",
                         "ServiceComponentInfo/component_name"],
                        subs={"host_components": lambda: [self.host_component(h, name) for h in hosts]})

    def host_component(self, host: str, component: str, with_host_link: bool = False) -> Resource:
        hc = self.m.state["host_components"][host][component]
        props = {"HostRoles": {
            "cluster_name": self.c, "service_name": "KAFKA", "component_name": component,
            "display_name": "Kafka Broker", "host_name": host, "public_host_name": host,
            "state": self.ops.component_state(host), "desired_state": hc["desired_state"],
            "stale_configs": self.m.is_stale(host, component), "reload_configs": False,
            "maintenance_state": self.ops.maintenance(host, component),
            "actual_configs": hc["actual"], "desired_admin_state": "INSERVICE"}}
        extra = {"host": {"href": f"{self.cluster_href}/hosts/{host}"}} if with_host_link else {}
        return Resource(f"{self.cluster_href}/hosts/{host}/host_components/{component}", props,
                        ["HostRoles/cluster_name", "HostRoles/host_name", "HostRoles/component_name"],
                        extra=extra)

    def all_host_components(self) -> list[Resource]:
        return [self.host_component(h, c, with_host_link=True)
                for h, comps in self.m.state["host_components"].items() for c in comps]

    # --- hosts ----------------------------------------------------------------------------------

    def host(self, name: str) -> Resource:
        h = self.m.state["hosts"][name]
        props = {"Hosts": {
            "cluster_name": self.c, "host_name": name, "public_host_name": name, "ip": h["ip"],
            **_host_health(self.ops.heartbeat_lost(name)), "maintenance_state": h["maintenance_state"],
            "rack_info": h["rack"], "os_type": "debian12", "os_family": "debian", "os_arch": "x86_64",
            "cpu_count": 2, "ph_cpu_count": 2, "total_mem": 24 * 1024 * 1024,
            "desired_configs": self.m.effective_tags(name)}}
        return Resource(f"{self.cluster_href}/hosts/{name}", props, ["Hosts/cluster_name", "Hosts/host_name"],
                        subs={"host_components": lambda: [self.host_component(name, c)
                                                          for c in self.m.state["host_components"][name]]})

    # --- configurations and service config versions -----------------------------------------------

    def configurations(self, include_properties: bool) -> list[Resource]:
        out = []
        for config_type, versions in sorted(self.m.state["configs"].items()):
            for tag, cfg in sorted(versions.items(), key=lambda kv: kv[1]["version"]):
                props: dict[str, Any] = {"tag": tag, "type": config_type, "version": cfg["version"],
                                         "Config": {"cluster_name": self.c, "stack_id": self.m.state["stack_id"]}}
                if include_properties:
                    if cfg["properties"]:
                        props["properties"] = dict(sorted(self.m.shown_properties(config_type, cfg).items()))
                    if cfg["properties_attributes"]:
                        props["properties_attributes"] = cfg["properties_attributes"]
                href = f"{self.cluster_href}/configurations?type={config_type}&tag={tag}"
                out.append(Resource(href, props, ["Config/cluster_name", "type", "tag"],
                                    open_prefixes=("properties/", "properties_attributes/")))
        return out

    def service_config_versions(self) -> list[Resource]:
        return [self.scv(s) for s in self.m.state["scvs"]]

    def scv(self, scv: dict) -> Resource:
        configs = []
        for config_type, tag in sorted(scv["configs"].items()):
            cfg = self.m.config(config_type, tag)
            configs.append({"Config": {"cluster_name": self.c, "stack_id": self.m.state["stack_id"]},
                            "type": config_type, "tag": tag, "version": cfg["version"],
                            "properties": dict(sorted(self.m.shown_properties(config_type, cfg).items())),
                            "properties_attributes": cfg["properties_attributes"]})
        props = {"cluster_name": self.c, "configurations": configs, "createtime": scv["createtime"],
                 "group_id": scv["group_id"], "group_name": scv["group_name"], "hosts": scv["hosts"],
                 "is_cluster_compatible": True, "is_current": self.m.scv_is_current(scv),
                 "service_config_version": scv["service_config_version"],
                 "service_config_version_note": scv["service_config_version_note"],
                 "service_name": scv["service_name"], "stack_id": self.m.state["stack_id"], "user": scv["user"]}
        return Resource(f"{self.cluster_href}/{self.m.scv_href(scv)}", props,
                        ["cluster_name", "service_name", "service_config_version"])

    # --- config groups --------------------------------------------------------------------------

    def config_groups(self, maps: list[dict[str, str]]) -> list[Resource]:
        """ConfigGroupResourceProvider.getConfigGroups: per property map of the predicate, the groups with that id,
        else that name (a tag beside the name is not looked at), else that tag, else on that host; its evaluate()
        is always true, so nothing filters the result afterwards (reference §15.6)."""
        groups = sorted(self.m.state["config_groups"].values(), key=lambda g: g["id"])
        found: dict[int, dict] = {}
        for props in maps:
            group_id, name, tag = (props.get(f"ConfigGroup/{k}") for k in ("id", "group_name", "tag"))
            host = props.get("ConfigGroup/hosts", props.get("ConfigGroup/hosts/host_name"))
            if group_id is not None:
                matches = [self.m.group(group_id)]
            elif name is not None:
                matches = [g for g in groups if g["group_name"] == name]
            elif tag is not None or host is not None:
                matches = [g for g in groups if (tag is None or g["tag"] == tag) and (host is None or host in g["hosts"])]
            else:
                matches = groups
            found.update((g["id"], g) for g in matches)
        return [self.config_group(g) for _, g in sorted(found.items())]

    def config_group(self, g: dict) -> Resource:
        props = {"ConfigGroup": {
            "cluster_name": self.c, "description": g["description"], "group_name": g["group_name"],
            "id": g["id"], "tag": g["tag"],
            "hosts": [{"host_name": h, "href": f"{self.cluster_href}/hosts/{h}"} for h in g["hosts"]],
            "desired_configs": [{"type": t, "tag": tag,
                                 "href": f"{self.cluster_href}/configurations?type={t}&tag={tag}"}
                                for t, tag in sorted(g["desired_configs"].items())]}}
        return Resource(f"{self.cluster_href}/config_groups/{g['id']}", props,
                        ["ConfigGroup/cluster_name", "ConfigGroup/id"])

    # --- requests, tasks, schedules -----------------------------------------------------------------

    def requests(self) -> list[Resource]:
        return [self.request(r) for r in sorted(self.m.state["requests"].values(), key=lambda r: r["id"])]

    def request(self, r: dict) -> Resource:
        summary = self.ops.summary(r)
        schedule = None
        if r["request_schedule_id"] is not None:
            schedule = {"schedule_id": r["request_schedule_id"],
                        "href": f"{self.cluster_href}/request_schedules/{r['request_schedule_id']}"}
        props = {"Requests": {
            "aborted_task_count": summary["aborted_task_count"], "cluster_name": self.c,
            "completed_task_count": summary["completed_task_count"], "create_time": r["create_time"],
            "end_time": r["end_time"], "exclusive": r["exclusive"], "failed_task_count": summary["failed_task_count"],
            "id": r["id"], "inputs": r["inputs"], "operation_level": r["operation_level"],
            "progress_percent": summary["progress_percent"], "queued_task_count": summary["queued_task_count"],
            "request_context": r["request_context"], "request_schedule": schedule,
            "request_status": summary["status"], "resource_filters": r["resource_filters"],
            "start_time": r["start_time"], "task_count": summary["task_count"],
            "timed_out_task_count": summary["timed_out_task_count"], "type": r["type"], "user_name": r["user_name"],
            "abort_reason": r["abort_reason"]}}
        return Resource(f"{self.cluster_href}/requests/{r['id']}", props, ["Requests/cluster_name", "Requests/id"],
                        subs={"tasks": lambda: [self.task(self.m.state["tasks"][str(t)])
                                                for stage in r["stages"] for t in stage]})

    def task(self, t: dict) -> Resource:
        props = {"Tasks": {**{k: t[k] for k in (
            "id", "request_id", "stage_id", "host_name", "role", "command", "custom_command_name",
            "command_detail", "status", "exit_code", "stdout", "stderr", "start_time", "end_time", "attempt_cnt")},
            "cluster_name": self.c, "ops_display_name": None, "structured_out": {},
            "output_log": f"/var/lib/ambari-agent/data/output-{t['id']}.txt",
            "error_log": f"/var/lib/ambari-agent/data/errors-{t['id']}.txt"}}
        return Resource(f"{self.cluster_href}/requests/{t['request_id']}/tasks/{t['id']}", props,
                        ["Tasks/cluster_name", "Tasks/request_id", "Tasks/id"])

    def schedule(self, s: dict, with_body: bool = False) -> Resource:
        """RequestExecutionImpl.convertToResponse: BatchRequest and BatchSettings are Jackson beans whose empty
        fields are left out (NON_EMPTY); 2.6/2.7 have no request_id in a batch request, and the bodies only in
        the answer for one schedule (convertToResponseWithBody)."""
        shown = ("order_id", "request_type", "request_uri", "request_status", "return_code", "response_message") + (
            ("request_body",) if with_body else ())
        props = {"RequestSchedule": {
            "batch": {"batch_requests": [{k: b[k] for k in shown if b.get(k) not in (None, "")}
                                         for b in sorted(s["batch_requests"], key=lambda b: b["order_id"])],
                      "batch_settings": {k: s["batch_settings"][k] for k in (
                          "batch_separation_in_seconds", "task_failure_tolerance_limit")
                          if s["batch_settings"].get(k) is not None}},
            "cluster_name": self.c, "description": s["description"], "id": s["id"],
            "last_execution_status": s["last_execution_status"], "schedule": s["schedule"] or {},
            "status": s["status"], "create_user": s["create_user"]}}
        return Resource(f"{self.cluster_href}/request_schedules/{s['id']}", props,
                        ["RequestSchedule/cluster_name", "RequestSchedule/id"])


def _host_health(lost: bool) -> dict[str, str]:
    """Hosts/host_state and host_status: HEARTBEAT_LOST and UNKNOWN once the agent stopped (HeartbeatMonitor,
    HostStatusHelper), HEALTHY otherwise."""
    return {"host_state": "HEARTBEAT_LOST", "host_status": "UNKNOWN"} if lost else {
        "host_state": "HEALTHY", "host_status": "HEALTHY"}
