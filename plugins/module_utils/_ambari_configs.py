# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ambari_config's work: read a config type (or a config group's overrides), plan, write only on change.

Order (style rule 3): read -> normalise -> pure plan -> write unless check mode -> read back. The diff and
`changed` come from the plan, so they are the same in check mode and for real; the one exception is a secret
Ambari returns only as a reference and the user wants written always (update_password=always): the plan counts it
as a possible change and Ambari's own comparison (updateCluster skips identical content) settles it.
"""

from __future__ import annotations

import difflib
import time
from urllib.parse import quote

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import (
    AmbariError, WriteUnanswered, cluster_path, dig, host_roles, objects, resolve_cluster)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_changes import (
    SECRET_NAME, WHOLE_SECRET_TYPE, ChangeError, PropertyChange, attributes_for_write, is_reference, looks_secret,
    normalize, password_keys, plan_properties, same_value)

DEFAULT_NOTE = "Changed by Ansible (ambari_kafka.mirroring.ambari_config)"
# Types whose change makes a service's components stale (stack configuration-dependencies), for check mode.
SERVICE_OF_TYPE = {t: "KAFKA" for t in (
    "kafka-broker", "kafka-env", "kafka-log4j", "kafka_jaas_conf", "kafka_client_jaas_conf",
    "ranger-kafka-plugin-properties", "ranger-kafka-audit", "ranger-kafka-policymgr-ssl", "ranger-kafka-security")}


def new_tag():
    """A fresh tag on every write: Ambari 2.6 requires one, and tags are immutable."""
    return "ansible%d" % int(time.time() * 1000)


def desired_configs(client, cluster):
    """{type: {tag, version}} of the configs in force."""
    return desired_in(client.get(cluster_path(cluster) + "?fields=Clusters/desired_configs"))


def desired_in(answer):
    """Clusters.desired_configs of a cluster's answer ({} when absent), each entry an object with a string tag."""
    desired = dig(answer, "Clusters", "desired_configs", want=dict, default={}, what="the configs in force")
    for config_type in desired:
        dig(desired, config_type, "tag", want=str, what="the tag of the %s config in force" % config_type)
    return desired


def read_desired(client, cluster, config_type, desired=None):
    """(tag, version, properties, properties_attributes) of the type in force; tag None if the type is new."""
    entry = (desired_configs(client, cluster) if desired is None else desired).get(config_type)
    if not entry:
        return None, None, {}, {}
    props, attrs = read_config(client, cluster, config_type, entry["tag"])
    return entry["tag"], entry.get("version"), props, attrs


def read_config(client, cluster, config_type, tag):
    path = cluster_path(cluster, "configurations") + "?type=%s&tag=%s" % (quote(config_type), quote(tag))
    items = objects(client.get(path), "items", default=[], what="the configurations of that type and tag")
    if not items:
        raise AmbariError("Cannot read %s tag '%s' on cluster %s: Ambari lists no such configuration"
                          % (config_type, tag, cluster))
    props = dig(items[0], "properties", want=dict, default={}, what="the properties of %s" % config_type)
    for name in props:  # Ambari holds every property as a string (ConfigurationResponse: Map<String, String>)
        dig(props, name, want=str, what="a property's value")
    attrs = dig(items[0], "properties_attributes", want=dict, default={}, what="the attributes of %s" % config_type)
    for kind in attrs:
        dig(attrs, kind, want=dict, what="property names -> attribute values")
    return dict(props), dict(attrs)


def stale_components(client, cluster, service=None):
    """{(host, component)} whose configs are stale."""
    query = "HostRoles/stale_configs=true" + ("&HostRoles/service_name=%s" % service if service else "")
    items = objects(client.get(cluster_path(cluster, "host_components") + "?" + query), "items", default=[],
                    what="the stale host components")
    return {(r["host_name"], r["component_name"]) for r in map(host_roles, items)}


def service_components(client, cluster, service, hosts=None):
    """{(host, component)} of a service, optionally only on some hosts: what a change would make stale."""
    items = objects(client.get(cluster_path(cluster, "host_components") + "?HostRoles/service_name=%s" % service),
                    "items", default=[], what="the service's host components")
    found = {(r["host_name"], r["component_name"]) for r in map(host_roles, items)}
    return {c for c in found if hosts is None or c[0] in hosts}


def _components(pairs):
    return [{"host": h, "component": c} for h, c in sorted(pairs)]


def require_type(cluster, config_type, desired, create, group):
    """A config type the cluster does not have is most often a typo: fail naming the types it has."""
    if config_type in desired or (create and not group):
        return
    close = difflib.get_close_matches(config_type, list(desired), n=1)
    raise AmbariError(
        "Config type '%s' does not exist on cluster %s%s. Its config types: %s. %s"
        % (config_type, cluster, " (did you mean '%s'?)" % close[0] if close else "", ", ".join(sorted(desired)),
           "A config group can only override a type the cluster has." if group
           else "Set create_type: true to create a new config type."), config_type=config_type)


def resolve_blocks(blocks, secret_blocks):
    """The blocks to plan: a block naming an entry of secret_blocks (a no_log option, so that its lines stay out of
    the logged invocation) takes its lines from there and is masked in any output."""
    out = []
    for n, b in enumerate(blocks or []):
        name = b.get("secret")
        b = dict(b, state=b.get("state") or "present", secret=False)
        if name is not None:
            if name not in (secret_blocks or {}):
                raise AmbariError("blocks[%d].secret is %r, which secret_blocks does not have (it has: %s)"
                                  % (n, name, ", ".join(sorted(secret_blocks or {})) or "nothing"))
            value = secret_blocks[name]
            if isinstance(value, (dict, list)):
                raise AmbariError("secret_blocks.%s is a %s; give the block's lines as one string"
                                  % (name, type(value).__name__))
            b.update(block="" if value is None else str(value), secret=True)
        out.append(b)
    return out


def warn_plain_secrets(module, current, blocks=()):
    """Values in `properties` and blocks' lines are logged like any option; say so for those that look like, or
    are, passwords."""
    for key, value in sorted((module.params["properties"] or {}).items()):
        if value is None:
            continue
        if SECRET_NAME.search(key) or is_reference(current.get(key)):
            module.warn("properties.%s looks like a secret; give it in secret_properties (no_log) so that it is "
                        "kept out of logs and -vvv output" % key)
        elif looks_secret(str(value)):
            module.warn("properties.%s holds what looks like a secret (a password, key or token assignment); give "
                        "the property in secret_properties (no_log) so that it is kept out of logs and -vvv output"
                        % key)
    for n, b in enumerate(blocks):
        if not b["secret"] and looks_secret(b.get("block")):
            module.warn("blocks[%d] (%s) looks like it holds a secret; put its lines in secret_blocks (no_log) and "
                        "name them with the block's secret option, so that they are kept out of logs and -vvv output"
                        % (n, b["property"]))


def _plan(p, blocks, current, attrs, where):
    try:
        return plan_properties(current, p["properties"], blocks, password_keys(attrs),
                               p["secret_properties"], p["update_password"],
                               bool(WHOLE_SECRET_TYPE.search(p["config_type"])))
    except ChangeError as exc:
        raise AmbariError("Cannot plan %s: %s" % (where, exc)) from None


def run_ambari_config(module, client):
    p = module.params
    blocks = resolve_blocks(p["blocks"], p["secret_blocks"])
    cluster = resolve_cluster(client, p["cluster"])
    desired = desired_configs(client, cluster)
    require_type(cluster, p["config_type"], desired, p["create_type"], bool(p["config_group"]))
    if p["config_group"]:
        return _run_group(module, client, cluster, desired, blocks)
    tag, version, current, attrs = read_desired(client, cluster, p["config_type"], desired)
    warn_plain_secrets(module, current, blocks)
    change = _plan(p, blocks, current, attrs, "%s on %s" % (p["config_type"], cluster))
    result = {"changed": change.changed, "cluster": cluster, "config_type": p["config_type"],
              "previous_tag": tag, "previous_version": version, "tag": tag, "version": version,
              "changed_properties": change.changed_keys, "unverified_secrets": sorted(change.unverified),
              "stale_components": [], "restart_required": False}
    if module._diff:
        result["diff"] = change.diff("%s on %s (tag %s)" % (p["config_type"], cluster, tag))
    if not change.changed:
        return result
    service = SERVICE_OF_TYPE.get(p["config_type"])
    stale_before = stale_components(client, cluster)
    if module.check_mode:
        predicted = service_components(client, cluster, service) - stale_before if service else set()
        result.update(stale_components=_components(predicted), restart_required=bool(predicted), tag=None,
                      version=None)
        return result
    new = new_tag()
    body = {"Clusters": {"desired_config": [{
        "type": p["config_type"], "tag": new, "properties": change.after,
        "properties_attributes": attributes_for_write(attrs, change.after, p["secret_properties"] or {}),
        "service_config_version_note": p["note"]}]}}
    try:
        client.put(cluster_path(cluster), body)
    except WriteUnanswered as exc:
        check = "the config history of %s on %s in Ambari (a version with note %r)" % (
            p["config_type"], cluster, p["note"])
        _settle(module, client, exc, lambda: read_desired(client, cluster, p["config_type"])[0] == new, check)
    result.update(_read_back(client, cluster, p["config_type"], new, tag, change, stale_before))
    return result


def _settle(module, client, exc, applied, what_to_check):
    """After a write that was sent and not answered: read back whether Ambari applied it. Applied: a warning, and
    the run goes on as after an answer. Not applied, or unreadable: a failure saying the outcome is unknown."""
    try:
        done = applied()
    except AmbariError as err:
        raise AmbariError("%s, and reading it back failed (%s). The outcome is unknown: check %s before running "
                          "again" % (exc.msg, err.msg, what_to_check), **exc.details) from None
    if not done:
        raise AmbariError("%s. Read back, it is not in force (yet): Ambari may have refused it or may still apply "
                          "it. Check %s before running again" % (exc.msg, what_to_check), **exc.details)
    module.warn("%s. Read back, it is in force: reported as changed" % exc.msg)


def _read_back(client, cluster, config_type, sent_tag, previous_tag, change, stale_before):
    """The new tag and version as Ambari stored them, and what became stale; fail loudly if it differs."""
    try:
        tag, version, stored = read_desired(client, cluster, config_type)[:3]
        became = stale_components(client, cluster) - stale_before
    except AmbariError as exc:
        raise AmbariError("%s on %s was changed (tag %s), but reading it back failed: %s"
                          % (config_type, cluster, sent_tag, exc.msg), changed=True, tag=sent_tag) from None
    settled_by_ambari = set(change.unverified)
    if tag == previous_tag:  # Ambari found the content identical (updateCluster) and kept the version in force
        if set(change.changed_keys) - settled_by_ambari:
            raise AmbariError("%s on %s: Ambari kept tag %s after a write that changes %s"
                              % (config_type, cluster, tag, ", ".join(change.changed_keys)))
        return {"changed": False, "changed_properties": []}
    drift = drifted(change.after, stored)
    if drift:
        raise AmbariError("%s on %s was written (tag %s) but Ambari holds other values for: %s"
                          % (config_type, cluster, tag, ", ".join(drift)), changed=True, tag=tag)
    return {"tag": tag, "version": version, "stale_components": _components(became), "restart_required": bool(became)}


def drifted(sent, stored):
    """Properties whose stored value is not what was sent. A secret written in plaintext comes back as a reference,
    and a reference comes back with the new version: both are what was sent."""
    def same(key):
        if key not in sent or key not in stored:
            return False
        return same_value(sent[key], stored[key]) or is_reference(stored[key])
    return sorted(k for k in set(sent) | set(stored) if not same(k))


# --- config groups: per-host overrides ------------------------------------------------------------------


def read_group(client, cluster, name, service):
    """The service's config group of that name. Ambari looks groups up by name only (the tag in a predicate beside
    the name is not looked at: ConfigGroupResourceProvider.getConfigGroups), so the tag is checked here."""
    path = cluster_path(cluster, "config_groups") + "?ConfigGroup/group_name=%s&fields=ConfigGroup/*" % quote(name)
    items = [dig(i, "ConfigGroup", want=dict, what="a config group") for i in objects(
        client.get(path), "items", default=[], what="the config groups")]
    mine = [g for g in items if g.get("group_name") == name and g.get("tag") == service]
    return check_group(mine[0]) if mine else None


def check_group(group):
    """A ConfigGroup answer whose hosts and desired_configs are what the modules read (lists of objects naming a
    host, a type and a tag)."""
    for host in objects(group, "hosts", default=[], what="the config group's hosts"):
        dig(host, "host_name", want=str, what="a host of the config group")
    for entry in objects(group, "desired_configs", default=[], what="the config group's configs"):
        dig(entry, "type", want=str, what="the config type of a config group's config")
        dig(entry, "tag", want=str, what="the tag of a config group's config")
    return group


def _group_state(group, config_type):
    """(hosts, tag of config_type) of a config group as Ambari lists it."""
    hosts = sorted(h["host_name"] for h in (group or {}).get("hosts") or [])
    tags = {d["type"]: d["tag"] for d in (group or {}).get("desired_configs") or []}
    return hosts, tags.get(config_type)


def _run_group(module, client, cluster, desired, blocks):
    p = module.params
    config_type, service = p["config_type"], p["service"]
    group = read_group(client, cluster, p["config_group"], service)
    tags = {d["type"]: d["tag"] for d in (group or {}).get("desired_configs") or []}
    current, attrs = read_config(client, cluster, config_type, tags[config_type]) if config_type in tags else ({}, {})
    warn_plain_secrets(module, current, blocks)
    base = dict(current)
    # A present block edits the whole multi-line value: it starts from the cluster's value when the group does not
    # override it (and from then on the group pins that property for its hosts). An absent block where the group
    # has no override has nothing to remove: no change, nothing copied.
    pinned = sorted({b["property"] for b in blocks if b["state"] == "present"} - set(base))
    if pinned:
        cluster_props = read_desired(client, cluster, config_type, desired)[2]
        base.update((name, cluster_props[name]) for name in pinned if name in cluster_props)
    where = "%s overrides of config group '%s' on %s" % (config_type, p["config_group"], cluster)
    planned = _plan(p, blocks, base, attrs, where)
    change = PropertyChange(current, planned.after, planned.secret_keys, planned.whole_values_secret,
                            planned.unverified, planned.secret_blocks)
    hosts_now = sorted(h["host_name"] for h in (group or {}).get("hosts") or [])
    hosts_wanted = sorted(set(p["hosts"]))
    overrides_change = group is None or change.changed
    changed = overrides_change or hosts_now != hosts_wanted
    result = {"changed": changed, "cluster": cluster, "config_type": config_type, "config_group": p["config_group"],
              "group_id": group["id"] if group else None, "previous_tag": tags.get(config_type),
              "tag": tags.get(config_type), "hosts": hosts_wanted, "previous_hosts": hosts_now,
              "changed_properties": change.changed_keys, "unverified_secrets": sorted(change.unverified),
              "stale_components": [], "restart_required": False}
    if module._diff:
        diff = change.diff(where)
        diff["before"] = "hosts=%s\n%s" % (",".join(hosts_now), diff["before"])
        diff["after"] = "hosts=%s\n%s" % (",".join(hosts_wanted), diff["after"])
        result["diff"] = diff
    if not changed:
        return result
    # Only new override values need writing, and only they need the passwords in plaintext: a config Ambari has is
    # kept by type and tag whatever properties come with it (ConfigGroupImpl.persistConfigMapping).
    after = _group_values(change.after, p["secret_properties"] or {}, where) if overrides_change else None
    affected = set(hosts_now) | set(hosts_wanted)
    stale_before = stale_components(client, cluster)
    if module.check_mode:
        predicted = service_components(client, cluster, service, affected) - stale_before
        result.update(stale_components=_components(predicted), restart_required=bool(predicted), tag=None)
        return result
    desired_group = [{"type": t, "tag": other} for t, other in sorted(tags.items()) if t != config_type]
    new = tags.get(config_type)
    if overrides_change:
        new = new_tag()
        entry = {"type": config_type, "tag": new, "properties": after}
        written_attrs = attributes_for_write(attrs, after, p["secret_properties"] or {})
        if written_attrs:
            entry["properties_attributes"] = written_attrs
        desired_group.append(entry)
    elif new is not None:
        desired_group.append({"type": config_type, "tag": new})
    body = {"ConfigGroup": {"cluster_name": cluster, "group_name": p["config_group"], "tag": service,
                            "service_name": service, "description": p["group_description"],
                            "hosts": [{"host_name": h} for h in hosts_wanted], "desired_configs": desired_group,
                            "service_config_version_note": p["note"]}}
    wanted = (hosts_wanted, new)
    check = "config group '%s' of %s on %s in Ambari (its hosts and %s overrides)" % (
        p["config_group"], service, cluster, config_type)
    if group is None:
        result["group_id"] = _create_group(module, client, cluster, body, service, config_type, wanted, check)
    else:
        try:
            client.put(cluster_path(cluster, "config_groups", str(group["id"])), body)
        except WriteUnanswered as exc:
            _settle(module, client, exc, lambda: _group_state(
                read_group(client, cluster, p["config_group"], service), config_type) == wanted, check)
    became = stale_components(client, cluster) - stale_before
    result.update(tag=new, stale_components=_components(became), restart_required=bool(became))
    return result


def _create_group(module, client, cluster, body, service, config_type, wanted, check):
    """POST the group; its id from the answer, or, when the answer lacks it or never came, from reading it back."""
    path = cluster_path(cluster, "config_groups")
    name = body["ConfigGroup"]["group_name"]
    try:
        created = client.post(path, [body])[1]
        return dig(created, "resources", 0, "ConfigGroup", "id", want=int, where=client.where("POST", path),
                   what="the id of the config group it created")
    except WriteUnanswered as exc:
        problem = exc
    except AmbariError as exc:
        if "status_code" in exc.details:  # Ambari refused it: nothing was created
            raise
        problem = WriteUnanswered(exc.msg)
    found = {}

    def applied():
        found["group"] = read_group(client, cluster, name, service)
        return found["group"] is not None and _group_state(found["group"], config_type) == wanted

    _settle(module, client, problem, applied, check)
    return found["group"]["id"]


def _group_values(after, secrets, where):
    """What a config group write must carry: Ambari stores a SECRET reference in a group's config as its text
    (only cluster-level writes resolve references), so every password goes in plaintext from secret_properties."""
    out = {k: (normalize(secrets[k]) if is_reference(v) and secrets.get(k) is not None else v)
           for k, v in after.items()}
    refs = sorted(k for k, v in out.items() if is_reference(v))
    if refs:
        raise AmbariError("Cannot write the %s: Ambari returns %s only as password references, which a config group "
                          "would store as text. Give their values in secret_properties." % (where, ", ".join(refs)))
    return out
