"""The lab's networks: one Linux bridge per cluster, one namespace per host, peered via the root namespace.

Everything created here is named with a `kl` prefix and recorded in network.json, so `down`
removes exactly what `up` made.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from kafka_lab.errors import LabError
from kafka_lab.layout import ClusterSpec, HostSpec, Paths

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabError(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def require_net_admin() -> None:
    """Fail early, with what is needed, when we cannot create namespaces and bridges."""
    if os.geteuid() != 0:
        raise LabError("kafka-lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network "
                       "namespaces, bridges and veth pairs for the lab's hosts; run it with sudo")
    probe = "kl-probe"
    proc = _ip("netns", "add", probe, check=False)
    if proc.returncode != 0:
        raise LabError("kafka-lab cannot create network namespaces here (" + proc.stderr.strip() +
                       "); it needs CAP_NET_ADMIN and CAP_SYS_ADMIN in the initial namespaces")
    _ip("netns", "del", probe, check=False)


def link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def ensure_bridge(cluster: ClusterSpec) -> None:
    if not link_exists(cluster.bridge):
        _ip("link", "add", cluster.bridge, "type", "bridge")
    addr = f"{cluster.gateway}/{cluster.prefixlen}"
    if addr not in _ip("-4", "addr", "show", "dev", cluster.bridge).stdout:
        _ip("addr", "add", addr, "dev", cluster.bridge)
    _ip("link", "set", cluster.bridge, "up")


def ensure_host(cluster: ClusterSpec, host: HostSpec) -> None:
    if not netns_exists(host.netns):
        _ip("netns", "add", host.netns)
    if not link_exists(host.veth):
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
    _ip("link", "set", host.veth, "master", cluster.bridge, "up")
    ns = ["-n", host.netns]
    if f"{host.ip}/" not in _ip(*ns, "-4", "addr", "show", "dev", "eth0").stdout:
        _ip(*ns, "addr", "add", f"{host.ip}/{cluster.prefixlen}", "dev", "eth0")
    _ip(*ns, "link", "set", "lo", "up")
    _ip(*ns, "link", "set", "eth0", "up")
    _ip(*ns, "route", "replace", "default", "via", cluster.gateway)


def up(paths: Paths, clusters: list[ClusterSpec]) -> None:
    state = _load(paths)
    if "ip_forward_before" not in state:
        state["ip_forward_before"] = IP_FORWARD.read_text().strip()
    for cluster in clusters:
        if cluster.simulated:
            continue
        ensure_bridge(cluster)
        state.setdefault("bridges", [])
        if cluster.bridge not in state["bridges"]:
            state["bridges"].append(cluster.bridge)
        for host in cluster.hosts():
            ensure_host(cluster, host)
            state.setdefault("netns", {})[host.netns] = host.veth
    # The peering: the root namespace routes between the two bridges.
    IP_FORWARD.write_text("1\n")
    _save(paths, state)


def down(paths: Paths) -> list[str]:
    state = _load(paths)
    removed = []
    for netns, veth in state.get("netns", {}).items():
        if link_exists(veth):
            _ip("link", "del", veth, check=False)
        if netns_exists(netns):
            _ip("netns", "del", netns, check=False)
        removed.append(netns)
    for bridge in state.get("bridges", []):
        if link_exists(bridge):
            _ip("link", "del", bridge, check=False)
        removed.append(bridge)
    if "ip_forward_before" in state:
        IP_FORWARD.write_text(state["ip_forward_before"] + "\n")
    paths.net_state.unlink(missing_ok=True)
    return removed


def host_exec_argv(paths: Paths, host: HostSpec, argv: list[str]) -> list[str]:
    """argv run 'on' a host: its network namespace, its own UTS name, /etc/hosts and host directory.

    A private mount namespace bind-mounts the host's directory at the same path on every host
    (Paths.host_view), so a cluster-wide kafka-env template can name one config path.
    """
    hdir = paths.host_dir(host.fqdn)
    script = (
        'mount --bind "$1/etc/hosts" /etc/hosts && mount --bind "$1" "$2" && hostname "$3" && shift 3 && exec "$@"'
    )
    return ["nsenter", f"--net=/run/netns/{host.netns}", "unshare", "--mount", "--uts", "--propagation", "private",
            "sh", "-c", script, "host-exec", str(hdir), str(paths.host_view), host.short, *argv]


def write_etc_hosts(paths: Paths, cluster: ClusterSpec) -> None:
    """Each host resolves the names of its own network only, like a VNet's default DNS."""
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{h.ip} {h.fqdn} {h.short}" for h in cluster.hosts()]
    for host in cluster.hosts():
        etc = paths.host_dir(host.fqdn) / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text("\n".join(lines) + "\n")


def _load(paths: Paths) -> dict:
    return json.loads(paths.net_state.read_text()) if paths.net_state.exists() else {}


def _save(paths: Paths, state: dict) -> None:
    paths.net_state.parent.mkdir(parents=True, exist_ok=True)
    paths.net_state.write_text(json.dumps(state, indent=2))
