# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ambari_cluster_info's work: the facts the article has you copy out of Ambari's Hosts page, and more."""

from __future__ import annotations

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import (
    AmbariError, cluster_path, dig, host_roles, objects, resolve_cluster)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_configs import (
    check_group, desired_in, read_config)

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
    # Kafka upper-cases listener names (ListenerName.normalised).
    port = next((entry["port"] for entry in listeners if entry["name"].upper() == protocol.upper()), None)
    return {"host_name": host, "ip": ip, "state": hc["state"], "stale_configs": bool(hc.get("stale_configs")),
            "maintenance_state": hc.get("maintenance_state", "OFF"), "listeners": listeners,
            "advertised_listeners": advertised, "port": port}


def require_listener(cluster, brokers, listener):
    """Fail naming the listeners there are when no broker has the one asked for; warnings for brokers without it."""
    missing = [b["host_name"] for b in brokers if b["port"] is None]
    if not brokers or len(missing) < len(brokers):
        return ["Brokers of cluster %s without a %s listener, left out of bootstrap_servers: %s"
                % (cluster, listener, ", ".join(missing))] if missing else []
    names = sorted({entry["name"] for b in brokers for entry in b["listeners"]})
    raise AmbariError("No broker of cluster %s has a listener named %s. Its brokers' listeners: %s. Set listener to "
                      "one of them." % (cluster, listener, ", ".join(names) or "none"), listeners=names)


def bootstrap(brokers, address):
    return ",".join("%s:%s" % (b["ip"] if address == "ip" else b["host_name"], b["port"]) for b in brokers
                    if b["port"] is not None)


def require_ips(cluster, what, names, hosts, address):
    """With address=ip, every host named must have an IP in Ambari (Hosts/ip): a None in a connect string is no
    address a client can use."""
    missing = sorted(h for h in names if not hosts.get(h, {}).get("ip"))
    if address == "ip" and missing:
        raise AmbariError("Ambari lists no IP address (Hosts/ip) for the %s of cluster %s on %s. Set address: fqdn "
                          "to use their names, or check these hosts in Ambari's Hosts page (a host that never "
                          "registered has no IP)" % (what, cluster, ", ".join(missing)), hosts_without_ip=missing)


def read_hosts(client, cluster):
    """host name -> Hosts of the cluster's hosts (ip a string or absent)."""
    answer = client.get(cluster_path(cluster, "hosts") + "?fields=Hosts/ip,Hosts/maintenance_state")
    hosts = {}
    for item in objects(answer, "items", what="the cluster's hosts"):
        host = dig(item, "Hosts", want=dict, what="a host")
        dig(host, "ip", want=str, default=None, what="a host's IP address")
        hosts[dig(host, "host_name", want=str, what="a host's name")] = host
    return hosts


def run_cluster_info(module, client):
    p = module.params
    cluster = resolve_cluster(client, p["cluster"])
    info = client.get(cluster_path(cluster) + "?fields=Clusters/cluster_name,Clusters/version,Clusters/desired_configs")
    desired = desired_in(info)
    hosts = read_hosts(client, cluster)
    hcs = client.get(cluster_path(cluster, "host_components") + "?HostRoles/service_name.in(KAFKA,ZOOKEEPER)"
                     "&fields=HostRoles/state,HostRoles/stale_configs,HostRoles/maintenance_state,"
                     "HostRoles/service_name")
    hcs = [host_roles(i) for i in objects(hcs, "items", what="the Kafka and ZooKeeper host components")]
    broker_hcs = sorted((hc for hc in hcs if hc["component_name"] == "KAFKA_BROKER"), key=lambda hc: hc["host_name"])
    broker_props = read_config(client, cluster, "kafka-broker", desired["kafka-broker"]["tag"])[0] \
        if "kafka-broker" in desired else {}
    overrides = _broker_overrides(client, cluster) if broker_hcs else {}
    brokers = [broker_facts(hc["host_name"], hosts.get(hc["host_name"], {}).get("ip"), hc,
                            merge_overrides(broker_props, overrides.get(hc["host_name"], [])), p["listener"])
               for hc in broker_hcs]
    for warning in require_listener(cluster, brokers, p["listener"]):
        module.warn(warning)
    require_ips(cluster, "brokers", [b["host_name"] for b in brokers if b["port"] is not None], hosts, p["address"])
    return {"changed": False, "cluster": cluster, "stack_version": info["Clusters"].get("version"),
            "brokers": brokers, "bootstrap_servers": bootstrap(brokers, p["address"]),
            "zookeeper": _zookeeper(client, cluster, desired, hcs, hosts, p["address"]),
            "desired_configs": {t: {"tag": d["tag"], "version": d.get("version")} for t, d in sorted(desired.items())},
            "stale_components": [{"host": hc["host_name"], "component": hc["component_name"],
                                  "service": hc.get("service_name")} for hc in hcs if hc.get("stale_configs")],
            "hosts_in_maintenance": sorted(h for h, v in hosts.items() if v.get("maintenance_state") == "ON")}


def _broker_overrides(client, cluster):
    """host -> [kafka-broker override maps] from the KAFKA config groups the host belongs to."""
    groups = client.get(cluster_path(cluster, "config_groups") + "?ConfigGroup/tag=KAFKA&fields=ConfigGroup/*")
    out = {}
    for g in objects(groups, "items", what="the Kafka config groups"):
        g = dig(g, "ConfigGroup", want=dict, what="a config group")
        if g.get("tag") != "KAFKA":  # Ambari filters by the tag here, but other predicates it ignores: be sure
            continue
        check_group(g)
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
    if not str(port).isdigit():
        raise AmbariError("zoo.cfg of cluster %s has clientPort %r, not a port number" % (cluster, port))
    require_ips(cluster, "ZooKeeper servers", servers, hosts, address)
    names = [hosts.get(h, {}).get("ip") if address == "ip" else h for h in servers]
    return {"servers": [{"host_name": h, "ip": hosts.get(h, {}).get("ip")} for h in servers], "client_port": int(port),
            "connect": ",".join("%s:%s" % (n, port) for n in names)}
