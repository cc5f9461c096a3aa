# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ambari_config's work: read a config type (or a config group's overrides), plan, write only on change.

Order (style rule 3): read -> normalise -> pure plan -> write unless check mode -> read back. The diff and
`changed` come from the plan, so they are the same in check mode and for real.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari import (
    AmbariError, cluster_path, resolve_cluster)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari_changes import (
    PropertyChange, password_keys, plan_properties)

DEFAULT_NOTE = "Changed by Ansible (ambari_kafka.mirroring.ambari_config)"
# Types whose change makes a service's components stale (stack configuration-dependencies), for check mode.
SERVICE_OF_TYPE = {t: "KAFKA" for t in (
    "kafka-broker", "kafka-env", "kafka-log4j", "kafka_jaas_conf", "kafka_client_jaas_conf",
    "ranger-kafka-plugin-properties", "ranger-kafka-audit", "ranger-kafka-policymgr-ssl", "ranger-kafka-security")}


def new_tag():
    """A fresh tag on every write: Ambari 2.6 requires one, and tags are immutable."""
    return "ansible%d" % int(time.time() * 1000)


def read_desired(client, cluster, config_type):
    """(tag, version, properties, properties_attributes) of the type in force; tag None if the type is new."""
    desired = client.get(cluster_path(cluster) + "?fields=Clusters/desired_configs")["Clusters"]
    entry = (desired.get("desired_configs") or {}).get(config_type)
    if not entry:
        return None, None, {}, {}
    props, attrs = read_config(client, cluster, config_type, entry["tag"])
    return entry["tag"], entry.get("version"), props, attrs


def read_config(client, cluster, config_type, tag):
    path = cluster_path(cluster, "configurations") + "?type=%s&tag=%s" % (quote(config_type), quote(tag))
    items = (client.get(path) or {}).get("items") or []
    if not items:
        raise AmbariError("Cannot read %s tag '%s' on cluster %s: Ambari lists no such configuration"
                          % (config_type, tag, cluster))
    return dict(items[0].get("properties") or {}), dict(items[0].get("properties_attributes") or {})


def stale_components(client, cluster, service=None):
    """{(host, component)} whose configs are stale."""
    query = "HostRoles/stale_configs=true" + ("&HostRoles/service_name=%s" % service if service else "")
    items = (client.get(cluster_path(cluster, "host_components") + "?" + query) or {}).get("items") or []
    return {(i["HostRoles"]["host_name"], i["HostRoles"]["component_name"]) for i in items}


def service_components(client, cluster, service, hosts=None):
    """{(host, component)} of a service, optionally only on some hosts: what a change would make stale."""
    items = (client.get(cluster_path(cluster, "host_components") + "?HostRoles/service_name=%s" % service)
             or {}).get("items") or []
    found = {(i["HostRoles"]["host_name"], i["HostRoles"]["component_name"]) for i in items}
    return {c for c in found if hosts is None or c[0] in hosts}


def _components(pairs):
    return [{"host": h, "component": c} for h, c in sorted(pairs)]


def run_ambari_config(module, client):
    p = module.params
    cluster = resolve_cluster(client, p["cluster"])
    if p["config_group"]:
        return _run_group(module, client, cluster)
    tag, version, current, attrs = read_desired(client, cluster, p["config_type"])
    change = plan_properties(current, p["properties"], p["blocks"] or (), password_keys(attrs))
    result = {"changed": change.changed, "cluster": cluster, "config_type": p["config_type"],
              "previous_tag": tag, "previous_version": version, "tag": tag, "version": version,
              "changed_properties": change.changed_keys, "stale_components": [], "restart_required": False}
    if module._diff:
        result["diff"] = change.diff("%s on %s (tag %s)" % (p["config_type"], cluster, tag))
    if not change.changed:
        result["properties"] = change.masked_after()
        return result
    service = SERVICE_OF_TYPE.get(p["config_type"])
    stale_before = stale_components(client, cluster)
    if module.check_mode:
        predicted = service_components(client, cluster, service) - stale_before if service else set()
        result.update(stale_components=_components(predicted), restart_required=bool(predicted),
                      properties=change.masked_after(), tag=None, version=None)
        return result
    new = new_tag()
    body = {"Clusters": {"desired_config": [{"type": p["config_type"], "tag": new, "properties": change.after,
                                             "properties_attributes": attrs,
                                             "service_config_version_note": p["note"]}]}}
    client.put(cluster_path(cluster), body)
    result.update(_read_back(client, cluster, p["config_type"], new, change, stale_before))
    return result


def _read_back(client, cluster, config_type, sent_tag, change, stale_before):
    """The new tag and version as Ambari stored them, and what became stale; fail loudly if it differs."""
    try:
        tag, version, stored = read_desired(client, cluster, config_type)[:3]
        became = stale_components(client, cluster) - stale_before
    except AmbariError as exc:
        raise AmbariError("%s on %s was changed (tag %s), but reading it back failed: %s"
                          % (config_type, cluster, sent_tag, exc.msg), changed=True, tag=sent_tag) from None
    if stored != change.after:
        drift = PropertyChange(change.after, stored, change.secret_keys).changed_keys
        raise AmbariError("%s on %s was written (tag %s) but Ambari holds other values for: %s"
                          % (config_type, cluster, tag, ", ".join(drift)), changed=True, tag=tag)
    return {"tag": tag, "version": version, "properties": change.masked_after(),
            "stale_components": _components(became), "restart_required": bool(became)}


# --- config groups: per-host overrides ------------------------------------------------------------------


def read_group(client, cluster, name, service):
    path = cluster_path(cluster, "config_groups") + "?ConfigGroup/group_name=%s&ConfigGroup/tag=%s&fields=ConfigGroup/*" % (
        quote(name), quote(service))
    items = (client.get(path) or {}).get("items") or []
    return items[0]["ConfigGroup"] if items else None


def _run_group(module, client, cluster):
    p = module.params
    config_type, service = p["config_type"], p["service"]
    group = read_group(client, cluster, p["config_group"], service)
    tags = {d["type"]: d["tag"] for d in (group or {}).get("desired_configs") or []}
    current, attrs = read_config(client, cluster, config_type, tags[config_type]) if config_type in tags else ({}, {})
    base = dict(current)
    if p["blocks"]:  # a block edits the whole multi-line value: start from the cluster's when not overridden
        cluster_props = read_desired(client, cluster, config_type)[2]
        for b in p["blocks"]:
            if b["property"] not in base and b["property"] in cluster_props:
                base[b["property"]] = cluster_props[b["property"]]
    change = plan_properties(base, p["properties"], p["blocks"] or (), password_keys(attrs))
    change = PropertyChange(current, change.after, change.secret_keys)
    hosts_now = sorted(h["host_name"] for h in (group or {}).get("hosts") or [])
    hosts_wanted = sorted(set(p["hosts"]))
    changed = group is None or change.changed or hosts_now != hosts_wanted
    result = {"changed": changed, "cluster": cluster, "config_type": config_type, "config_group": p["config_group"],
              "group_id": group["id"] if group else None, "previous_tag": tags.get(config_type),
              "tag": tags.get(config_type), "hosts": hosts_wanted, "previous_hosts": hosts_now,
              "changed_properties": change.changed_keys, "properties": change.masked_after(),
              "stale_components": [], "restart_required": False}
    if module._diff:
        diff = change.diff("%s overrides of config group '%s' on %s" % (config_type, p["config_group"], cluster))
        diff["before"] = "hosts=%s\n%s" % (",".join(hosts_now), diff["before"])
        diff["after"] = "hosts=%s\n%s" % (",".join(hosts_wanted), diff["after"])
        result["diff"] = diff
    if not changed:
        return result
    affected = set(hosts_now) | set(hosts_wanted)
    stale_before = stale_components(client, cluster)
    if module.check_mode:
        predicted = service_components(client, cluster, service, affected) - stale_before
        result.update(stale_components=_components(predicted), restart_required=bool(predicted), tag=None)
        return result
    new = new_tag() if (change.changed or group is None) else tags.get(config_type)
    desired = [{"type": t, "tag": other} for t, other in sorted(tags.items()) if t != config_type]
    desired.append({"type": config_type, "tag": new, "properties": change.after})
    body = {"ConfigGroup": {"cluster_name": cluster, "group_name": p["config_group"], "tag": service,
                            "service_name": service, "description": p["group_description"],
                            "hosts": [{"host_name": h} for h in hosts_wanted], "desired_configs": desired,
                            "service_config_version_note": p["note"]}}
    if group is None:
        created = client.post(cluster_path(cluster, "config_groups"), [body])[1]
        result["group_id"] = created["resources"][0]["ConfigGroup"]["id"]
    else:
        client.put(cluster_path(cluster, "config_groups", str(group["id"])), body)
    became = stale_components(client, cluster) - stale_before
    result.update(tag=new, stale_components=_components(became), restart_required=bool(became))
    return result
