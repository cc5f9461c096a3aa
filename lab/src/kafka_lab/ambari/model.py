"""One cluster's Ambari state and the rules that change it (reference/ambari-rest-api.md §3-§7, §13).

The state is a JSON document persisted after every change, so config history, service config
versions and requests survive `kafka-lab down` and `up`. All methods run under the model's lock.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from kafka_lab.ambari import secrets
from kafka_lab.ambari.errors import ApiError, bad_request, internal, not_found
from kafka_lab.layout import ClusterSpec
from kafka_lab.stack import KAFKA_CONFIG_DEPENDENCIES, SERVICE_CONFIG_TYPES

DELETED_PREFIX = "DELETED_"
COMPONENTS = {"KAFKA": ("KAFKA_BROKER",)}


def now_ms() -> int:
    return int(time.time() * 1000)


def service_of(config_type: str) -> str | None:
    return next((s for s, types in SERVICE_CONFIG_TYPES.items() if config_type in types), None)


class ClusterModel:
    def __init__(self, spec: ClusterSpec, path: Path, ambari_version: str) -> None:
        self.spec = spec
        self.path = path
        self.ambari_version = ambari_version
        self.lock = threading.RLock()
        self.state: dict[str, Any] = {}

    # --- persistence ----------------------------------------------------------------------------

    def load_or_seed(self, seed: dict[str, dict[str, str]], kafka_cluster_id: str) -> None:
        with self.lock:
            if self.path.exists():
                self.state = json.loads(self.path.read_text())
                return
            stack_id = "HDP-2.6" if self.ambari_version == "2.6" else "HDP-3.1"
            hosts = {h.fqdn: {"ip": h.ip, "maintenance_state": "OFF", "rack": h.rack} for h in self.spec.hosts()}
            self.state = {
                "cluster_name": self.spec.name, "cluster_id": 2, "stack_id": stack_id,
                "kafka_cluster_id": kafka_cluster_id,
                "configs": {}, "next_version": {}, "desired": {}, "scvs": [],
                "config_groups": {}, "next_group_id": 2,
                "services": {"KAFKA": {"maintenance_state": "OFF"}},
                "hosts": hosts,
                "host_components": {h: {"KAFKA_BROKER": {"state": "INSTALLED", "desired_state": "INSTALLED",
                                                         "restart_required": False, "maintenance_state": "OFF",
                                                         "actual": {}}} for h in hosts},
                "requests": {}, "tasks": {}, "next_request_id": 1, "next_task_id": 1,
                "schedules": {}, "next_schedule_id": 1,
            }
            for config_type, props in seed.items():
                tag = "version1"
                self._create_config(config_type, tag, props, {}, "admin")
                self.state["desired"][config_type] = {"tag": tag, "user": "admin"}
            self._create_scv("KAFKA", "Initial configurations for Kafka", "admin", None)
            for host, comps in self.state["host_components"].items():
                for hc in comps.values():
                    hc["actual"] = self.effective_tags(host)
            self.save()

    def save(self) -> None:
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            # 0600: the state holds every config version, passwords included.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            # A .tmp left by an older lab or a crash keeps its mode through O_CREAT: 0600 before any byte is written.
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self.state, indent=1, sort_keys=True))
            os.replace(tmp, self.path)

    # --- configurations -------------------------------------------------------------------------

    def _create_config(self, config_type: str, tag: str, props: dict, attrs: dict, user: str) -> dict:
        versions = self.state["configs"].setdefault(config_type, {})
        if tag in versions:
            raise internal(f"Configuration with tag '{tag}' exists for '{config_type}'")
        number = self.state["next_version"].get(config_type, 1)
        self.state["next_version"][config_type] = number + 1
        versions[tag] = {"version": number, "properties": dict(props), "properties_attributes": attrs,
                         "user": user, "createtime": now_ms()}
        return versions[tag]

    def create_configuration(self, config_type: str, tag: str, props: dict, attrs: dict, user: str) -> None:
        """POST configurations: a new version that is not applied (not desired) until PUT selects it."""
        with self.lock:
            self._create_config(config_type, tag, self._resolved(config_type, props, attrs), attrs, user)
            self.save()

    def config(self, config_type: str, tag: str) -> dict | None:
        return self.state["configs"].get(config_type, {}).get(tag)

    def config_by_version(self, config_type: str, version: int) -> dict | None:
        """ClusterImpl.getConfigByVersion: what a SECRET reference points at."""
        return next((c for c in self.state["configs"].get(config_type, {}).values() if c["version"] == version), None)

    def _resolved(self, config_type: str, props: dict, attrs: dict | None) -> dict:
        return secrets.resolved(config_type, props, attrs or {}, self.config_by_version, self.spec.name)

    def shown_properties(self, config_type: str, cfg: dict) -> dict:
        """A stored config's properties as every API answer shows them (ConfigurationResponse)."""
        return secrets.shown(config_type, cfg["version"], cfg["properties"], cfg["properties_attributes"])

    def desired_configs(self) -> dict[str, dict]:
        out = {}
        for config_type, d in sorted(self.state["desired"].items()):
            entry = {"tag": d["tag"], "version": self.config(config_type, d["tag"])["version"]}
            if self.ambari_version == "2.6":
                entry["user"] = d["user"]
            out[config_type] = entry
        return out

    def put_desired_configs(self, requests: list[dict], user: str) -> list[dict] | None:
        """PUT Clusters/desired_config (§5.2). Returns the new SCVs, or None for a no-op (200, empty)."""
        with self.lock:
            for r in requests:
                if not r.get("type"):
                    raise bad_request("Invalid desired config: 'type' is required")
            # Password references become the stored values before anything is compared (updateCluster).
            requests = [{**r, "properties": self._resolved(r["type"], r["properties"], r.get("properties_attributes"))}
                        if isinstance(r.get("properties"), dict) else r for r in requests]
            services = {service_of(r["type"]) for r in requests} - {None}
            if len(services) > 1:
                types = sorted(r["type"] for r in requests)
                raise bad_request(f"Config types: {types} should belong to a single installed service. "
                                  f"But they belong to: {sorted(services)}")
            if not any(self._differs(r) for r in requests):
                return None
            selected = []
            for r in requests:
                tag = r.get("tag") or ""
                if not tag:
                    if self.ambari_version == "2.6":
                        # 2.6 invents a tag but does not apply the config: always send a tag on 2.6.
                        number = self.state["next_version"].get(r["type"], 1)
                        self._create_config(r["type"], f"generatedTag_{number}", r.get("properties") or {},
                                            r.get("properties_attributes") or {}, user)
                        continue
                    tag = str(uuid.uuid4())
                props = r.get("properties")
                if props is None:
                    continue
                if self.config(r["type"], tag) is None or props:
                    self._create_config(r["type"], tag, props, r.get("properties_attributes") or {}, user)
                selected.append((r["type"], tag))
            changed = [(t, tag) for t, tag in selected if self.state["desired"].get(t, {}).get("tag") != tag]
            if not changed:
                self.save()
                return None
            for config_type, tag in changed:
                self.state["desired"][config_type] = {"tag": tag, "user": user}
            note = next((r.get("service_config_version_note") for r in requests
                         if r.get("service_config_version_note")), None)
            result = []
            service = service_of(changed[0][0])
            if service:
                scv = self._create_scv(service, note, user, None)
                result.append(self._scv_put_response(scv, [t for t, _ in changed]))
                self._mark_stale(service, [t for t, _ in changed], list(self.state["hosts"]))
            self.save()
            return result

    def _differs(self, r: dict) -> bool:
        current = self.state["desired"].get(r["type"])
        if current is None:
            return True
        cur = self.config(r["type"], current["tag"])
        attrs = r.get("properties_attributes") or {}
        if not _attribute_maps_equal(cur["properties_attributes"], attrs):
            return True
        props = r.get("properties")
        tag = r.get("tag")
        if not props and tag and tag != current["tag"] and self.config(r["type"], tag) is not None:
            return True  # revert to an older tag
        if props is None:
            return False
        return props != cur["properties"]

    def _mark_stale(self, service: str, types: list[str], hosts: list[str]) -> None:
        if service != "KAFKA" or not set(types) & KAFKA_CONFIG_DEPENDENCIES:
            return
        for host in hosts:
            for hc in self.state["host_components"].get(host, {}).values():
                hc["restart_required"] = True

    # --- service config versions ----------------------------------------------------------------

    def _create_scv(self, service: str, note: str | None, user: str, group: dict | None) -> dict:
        number = 1 + max((s["service_config_version"] for s in self.state["scvs"]
                          if s["service_name"] == service), default=0)
        if group is None:
            configs = {t: self.state["desired"][t]["tag"] for t in SERVICE_CONFIG_TYPES[service]
                       if t in self.state["desired"]}
            group_id, group_name, hosts = -1, "Default", []
        else:
            configs = dict(group["desired_configs"])
            group_id, group_name, hosts = group["id"], group["group_name"], list(group["hosts"])
        scv = {"service_name": service, "service_config_version": number, "group_id": group_id,
               "group_name": group_name, "hosts": hosts, "configs": configs, "user": user,
               "service_config_version_note": note, "createtime": now_ms()}
        self.state["scvs"].append(scv)
        return scv

    def _scv_put_response(self, scv: dict, types: list[str]) -> dict:
        stack_name, stack_version = self.state["stack_id"].split("-")
        return {
            "href": self.scv_href(scv),
            "configurations": [{
                "clusterName": self.spec.name,
                "stackId": {"stackName": stack_name, "stackVersion": stack_version, "stackId": self.state["stack_id"]},
                "type": t, "versionTag": scv["configs"][t], "version": self.config(t, scv["configs"][t])["version"],
                "serviceConfigVersions": None,
                "configs": self.shown_properties(t, self.config(t, scv["configs"][t])),
                "configAttributes": self.config(t, scv["configs"][t])["properties_attributes"],
                "propertiesTypes": {},
            } for t in types],
            "group_id": scv["group_id"], "group_name": scv["group_name"],
            "service_config_version": scv["service_config_version"],
            "service_config_version_note": scv["service_config_version_note"],
            "service_name": scv["service_name"],
        }

    def scv_href(self, scv: dict) -> str:
        return (f"configurations/service_config_versions?service_name={scv['service_name']}"
                f"&service_config_version={scv['service_config_version']}")

    def scv_is_current(self, scv: dict) -> bool:
        latest = max(s["service_config_version"] for s in self.state["scvs"]
                     if s["service_name"] == scv["service_name"] and s["group_id"] == scv["group_id"])
        return scv["service_config_version"] == latest

    def rollback(self, service: str, version: str, note: str | None, user: str) -> list[dict]:
        with self.lock:
            target = next((s for s in self.state["scvs"] if s["service_name"] == service
                           and str(s["service_config_version"]) == str(version)), None)
            if target is None:
                raise not_found(f"Service config version {version} not found for service {service}")
            if target["group_id"] != -1:
                raise bad_request("Rollback of config group versions is not supported by the lab")
            for config_type, tag in target["configs"].items():
                self.state["desired"][config_type] = {"tag": tag, "user": user}
            scv = self._create_scv(service, note, user, None)
            self._mark_stale(service, list(target["configs"]), list(self.state["hosts"]))
            self.save()
            return [self._scv_put_response(scv, list(target["configs"]))]

    # --- config groups (§6) ---------------------------------------------------------------------

    def create_config_group(self, body: dict, user: str) -> int:
        with self.lock:
            self._validate_group(body)
            for g in self.state["config_groups"].values():
                if g["group_name"] == body["group_name"] and g["tag"] == body["tag"]:
                    raise ApiError(409, "Config group already exists with the same name and tag, "
                                        f"group_name = {body['group_name']}, tag = {body['tag']}")
            group_id = self.state["next_group_id"]
            self.state["next_group_id"] += 1
            group = {"id": group_id, "group_name": body["group_name"], "tag": body["tag"],
                     "description": body.get("description", ""), "service_name": body.get("service_name"),
                     "hosts": [], "desired_configs": {}}
            self._apply_group(group, body, user, conflict_status=409)
            self.state["config_groups"][str(group_id)] = group
            self.save()
            return group_id

    def update_config_group(self, group_id: str, body: dict, user: str) -> dict:
        with self.lock:
            group = self.group(group_id)
            self._validate_group(body)
            old_hosts = list(group["hosts"])
            group.update(group_name=body["group_name"], tag=body["tag"],
                         description=body.get("description", group["description"]))
            self._apply_group(group, body, user, conflict_status=500, extra_stale_hosts=old_hosts)
            self.save()
            return group

    def delete_config_group(self, group_id: str) -> None:
        with self.lock:
            group = self.group(group_id)
            del self.state["config_groups"][str(group["id"])]
            service = group.get("service_name") or group["tag"]
            self._mark_stale(service, list(group["desired_configs"]), group["hosts"])
            for scv in self.state["scvs"]:
                if scv["group_id"] == group["id"]:
                    scv["group_name"] = "Deleted"
            self.save()

    def group(self, group_id: str) -> dict:
        group = self.state["config_groups"].get(str(group_id))
        if group is None:
            raise not_found(f"Config group not found, clusterName={self.spec.name}, groupId={group_id}")
        return group

    def _validate_group(self, body: dict) -> None:
        if not (body.get("cluster_name") and body.get("group_name") and body.get("tag")):
            raise bad_request("Cluster name, group name and tag need to be provided.")
        if body["cluster_name"] != self.spec.name:
            raise not_found(f"Cluster not found, clusterName={body['cluster_name']}")

    def _apply_group(self, group: dict, body: dict, user: str, conflict_status: int,
                     extra_stale_hosts: list[str] = ()) -> None:
        hosts = [h["host_name"] if isinstance(h, dict) else h for h in body.get("hosts") or []]
        for host in hosts:
            if host not in self.state["hosts"]:
                raise internal(f"Host not found, hostname={host}")
            for other in self.state["config_groups"].values():
                if other is not group and other["tag"] == body["tag"] and host in other["hosts"]:
                    raise ApiError(conflict_status, "Host is already associated with a config group, "
                                                    f"clusterName = {self.spec.name}, configGroupName = "
                                                    f"{other['group_name']}, hostName = {host}")
        configs = body.get("desired_configs") or []
        for dc in configs:  # verifyConfigs, before anything is stored
            if dc.get("type") not in self.state["desired"]:
                raise internal(f"Trying to add not existent config type to config group: configType = "
                               f"{dc.get('type')} cluster = {self.spec.name}")
        new = [dc for dc in configs if self.config(dc.get("type"), dc.get("tag")) is None]
        owner = group.get("service_name") or body.get("service_name") or next(
            (service_of(dc["type"]) for dc in configs if service_of(dc["type"])), None)
        if new and self.ambari_version != "2.6" and owner not in self.state["services"]:
            # persistConfigMapping creates a config the group brings with cluster.getService(serviceName), which
            # throws for a service the cluster lacks (release-2.7.8); release-2.6.2 takes the cluster's stack then.
            raise internal(f"Service not found, clusterName={self.spec.name}, serviceName={owner}")
        desired = {}
        for dc in configs:
            config_type, tag = dc.get("type"), dc.get("tag")
            if dc in new:
                self._create_config(config_type, tag, dc.get("properties") or {},
                                    dc.get("properties_attributes") or {}, user)
            desired[config_type] = tag
        changed_types = sorted(set(desired) | set(group["desired_configs"]))
        group["hosts"], group["desired_configs"] = hosts, desired
        service = body.get("service_name") or group.get("service_name") or group["tag"]
        if service in SERVICE_CONFIG_TYPES:
            self._create_scv(service, body.get("service_config_version_note"), user, group)
            self._mark_stale(service, changed_types, sorted(set(hosts) | set(extra_stale_hosts)))

    # --- effective configs and stale flags ------------------------------------------------------

    def groups_of(self, host: str) -> list[dict]:
        return [g for g in self.state["config_groups"].values() if host in g["hosts"]]

    def effective_tags(self, host: str) -> dict[str, dict[str, str]]:
        """Per type: {"default": tag, "overrides": {group_id: tag}} (Hosts/desired_configs shape)."""
        out = {t: {"default": d["tag"]} for t, d in self.state["desired"].items()}
        for g in self.groups_of(host):
            for config_type, tag in g["desired_configs"].items():
                out.setdefault(config_type, {}).setdefault("overrides", {})[str(g["id"])] = tag
        return out

    def effective_configs(self, host: str) -> dict[str, dict[str, str]]:
        """Cluster properties <- config group overrides; a `DELETED_x` key removes x (ConfigHelper)."""
        out = {}
        for config_type, tags in self.effective_tags(host).items():
            props = dict(self.config(config_type, tags["default"])["properties"]) if "default" in tags else {}
            for tag in tags.get("overrides", {}).values():
                for key, value in self.config(config_type, tag)["properties"].items():
                    if key.startswith(DELETED_PREFIX):
                        props.pop(key[len(DELETED_PREFIX):], None)
                    else:
                        props[key] = value
            out[config_type] = props
        return out

    def is_stale(self, host: str, component: str) -> bool:
        hc = self.state["host_components"][host][component]
        if hc["restart_required"]:
            return True
        desired = self.effective_tags(host)
        return any(hc["actual"].get(t) != desired.get(t) for t in KAFKA_CONFIG_DEPENDENCIES
                   if t in desired or t in hc["actual"])

    def started(self, host: str, component: str) -> None:
        """A successful START or RESTART records the configs the component runs with."""
        with self.lock:
            hc = self.state["host_components"][host][component]
            hc["restart_required"] = False
            hc["actual"] = self.effective_tags(host)

    # --- lookups that raise Ambari's 404s ------------------------------------------------------

    def require_service(self, service: str) -> dict:
        if service not in self.state["services"]:
            raise not_found(f"Service not found, clusterName={self.spec.name}, serviceName={service}")
        return self.state["services"][service]

    def require_component(self, service: str, component: str) -> None:
        self.require_service(service)
        if component not in COMPONENTS.get(service, ()):
            raise not_found(f"ServiceComponent not found, clusterName={self.spec.name}, serviceName={service}, "
                            f"serviceComponentName={component}")

    def require_host(self, host: str) -> dict:
        if host not in self.state["hosts"]:
            raise not_found(f"Host not found, hostname={host}")
        return self.state["hosts"][host]

    def require_host_component(self, host: str, component: str) -> dict:
        self.require_host(host)
        hc = self.state["host_components"][host].get(component)
        if hc is None:
            raise not_found(f"ServiceComponentHost not found, clusterName={self.spec.name}, "
                            f"serviceName=KAFKA, serviceComponentName={component}, hostName={host}")
        return hc


def _attribute_maps_equal(current: dict, requested: dict) -> bool:
    """isAttributeMapsEqual: key sets of the outer and inner maps, then values."""
    if set(current) != set(requested):
        return False
    return all(set(current[k]) == set(requested[k]) and current[k] == requested[k] for k in current)
