# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ambari_cluster_info's work: the facts the article has you copy out of Ambari's Hosts page, and more."""

from __future__ import annotations

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari import (
    cluster_path, resolve_cluster)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari_configs import read_config

DELETED = "DELETED_"
ZOOKEEPER_PORT = "2181"


def parse_listeners(value, fqdn):
    """[{name, host, port}] of a listeners value, `localhost` replaced by the FQDN as the stack scripts do."""
    out = []
    for item in (value or "").split(","):
        item = item.strip()
        if "://" not in item:
            continue
        name, address = item.split("://", 1)
        host, port = address.rsplit(":", 1) if ":" in address else (address, "")
        host = host.strip("[]")
        out.append({"name": name, "host": fqdn if host == "localhost" else host, "port": int(port) if port.isdigit() else None})
    return out


def merge_overrides(props, overrides):
    """Cluster properties <- each override map; `DELETED_x` removes x (Ambari's ConfigHelper)."""
    merged = dict(props)
    for override in overrides:
        for key, value in override.items():
            if key.startswith(DELETED):
                merged.pop(key[len(DELETED):], None)
            else:
                merged[key] = value
    return merged


def broker_facts(host, ip, hc, broker_props, protocol):
    listeners = parse_listeners(broker_props.get("listeners") or "PLAINTEXT://localhost:%s" % broker_props.get(
        "port", "6667"), host)
    advertised = parse_listeners(broker_props["advertised.listeners"], host) if "advertised.listeners" in broker_props \
        else listeners
    port = next((entry["port"] for entry in listeners if entry["name"] == protocol), None)
    return {"host_name": host, "ip": ip, "state": hc["state"], "stale_configs": bool(hc.get("stale_configs")),
            "maintenance_state": hc.get("maintenance_state", "OFF"), "listeners": listeners,
            "advertised_listeners": advertised, "port": port}


def bootstrap(brokers, address):
    return ",".join("%s:%s" % (b["ip"] if address == "ip" else b["host_name"], b["port"]) for b in brokers
                    if b["port"] is not None)


def run_cluster_info(module, client):
    p = module.params
    cluster = resolve_cluster(client, p["cluster"])
    info = client.get(cluster_path(cluster) + "?fields=Clusters/cluster_name,Clusters/version,Clusters/desired_configs")
    desired = info["Clusters"].get("desired_configs") or {}
    hosts = {h["Hosts"]["host_name"]: h["Hosts"] for h in client.get(
        cluster_path(cluster, "hosts") + "?fields=Hosts/ip,Hosts/maintenance_state")["items"]}
    hcs = client.get(cluster_path(cluster, "host_components") + "?HostRoles/service_name.in(KAFKA,ZOOKEEPER)"
                     "&fields=HostRoles/state,HostRoles/stale_configs,HostRoles/maintenance_state,"
                     "HostRoles/service_name")["items"]
    hcs = [i["HostRoles"] for i in hcs]
    broker_hcs = sorted((hc for hc in hcs if hc["component_name"] == "KAFKA_BROKER"), key=lambda hc: hc["host_name"])
    broker_props = read_config(client, cluster, "kafka-broker", desired["kafka-broker"]["tag"])[0] \
        if "kafka-broker" in desired else {}
    overrides = _broker_overrides(client, cluster) if broker_hcs else {}
    brokers = [broker_facts(hc["host_name"], hosts.get(hc["host_name"], {}).get("ip"), hc,
                            merge_overrides(broker_props, overrides.get(hc["host_name"], [])), p["listener"])
               for hc in broker_hcs]
    return {"changed": False, "cluster": cluster, "stack_version": info["Clusters"].get("version"),
            "brokers": brokers, "bootstrap_servers": bootstrap(brokers, p["address"]),
            "zookeeper": _zookeeper(client, cluster, desired, hcs, hosts, p["address"]),
            "desired_configs": {t: {"tag": d["tag"], "version": d.get("version")} for t, d in sorted(desired.items())},
            "stale_components": [{"host": hc["host_name"], "component": hc["component_name"]} for hc in hcs
                                 if hc.get("stale_configs")],
            "hosts_in_maintenance": sorted(h for h, v in hosts.items() if v.get("maintenance_state") == "ON")}


def _broker_overrides(client, cluster):
    """host -> [kafka-broker override maps] from the KAFKA config groups the host belongs to."""
    groups = client.get(cluster_path(cluster, "config_groups") + "?ConfigGroup/tag=KAFKA&fields=ConfigGroup/*")["items"]
    out = {}
    for g in groups:
        g = g["ConfigGroup"]
        tag = next((d["tag"] for d in g.get("desired_configs") or [] if d["type"] == "kafka-broker"), None)
        if tag is None:
            continue
        props = read_config(client, cluster, "kafka-broker", tag)[0]
        for h in g.get("hosts") or []:
            out.setdefault(h["host_name"], []).append(props)
    return out


def _zookeeper(client, cluster, desired, hcs, hosts, address):
    servers = sorted(hc["host_name"] for hc in hcs if hc["component_name"] == "ZOOKEEPER_SERVER")
    if not servers:
        return None
    port = ZOOKEEPER_PORT
    if "zoo.cfg" in desired:
        port = read_config(client, cluster, "zoo.cfg", desired["zoo.cfg"]["tag"])[0].get("clientPort", ZOOKEEPER_PORT)
    names = [hosts.get(h, {}).get("ip") if address == "ip" else h for h in servers]
    return {"servers": [{"host_name": h, "ip": hosts.get(h, {}).get("ip")} for h in servers], "client_port": int(port),
            "connect": ",".join("%s:%s" % (n, port) for n in names)}
