"""The worker nodes: Debian machines booted by systemd-nspawn on the secondary network.

The article runs MirrorMaker on the secondary's head node; the mirror_worker role deploys the
worker to these nodes over SSH. systemd is PID 1 inside, sshd accepts the lab's key, Python 3 is
installed, and each node reaches both clusters' brokers by IP (routed via the root namespace).
Node i (0-based) is machine kl-node[i+1], host hn<i>-<prefix> at .100+i, with its own copy of the
rootfs in Paths.node_home(i); a second node is how users scale a pair out (one consumer group).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from kafka_lab.errors import LabError
from kafka_lab.layout import ClusterSpec, Paths
from kafka_lab.procs import pid_from, terminate
from kafka_lab.runtime import cache_dir

MAX_NODES = 8  # .100 to .107 of the secondary's network
DEFAULT_SUITE = "bookworm"
# Another Debian release for the node (e.g. bullseye, Python 3.9: the oldest the worker supports), chosen when the
# node boots; each release keeps its own rootfs.
SUITE = os.environ.get("KAFKA_LAB_NODE_SUITE", DEFAULT_SUITE)
PACKAGES = ("systemd,systemd-sysv,dbus,openssh-server,python3,python3-venv,iproute2,ca-certificates,procps,"
            "netbase")
BOOT_TIMEOUT_S = 120.0
DEBOOTSTRAP_TIMEOUT_S = 1800.0
STOP_TIMEOUT_S = 30.0


def rootfs_cache() -> Path:
    return cache_dir().parent / f"debian-{SUITE}-rootfs"


def mirror() -> str:
    """The Debian mirror this machine's apt uses, so the node comes from the same place."""
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))]:
        if path.exists():
            for line in path.read_text().splitlines():
                words = line.split()
                if line.startswith("URIs:") and len(words) > 1 and words[1].rstrip("/").endswith("/debian"):
                    return words[1]
                if line.startswith("deb ") and len(words) > 2 and words[1].rstrip("/").endswith("/debian"):
                    return words[1]
    return "http://deb.debian.org/debian"


def _quiet(_: str) -> None:
    pass


def ensure_rootfs(progress: Callable[[str], None] = _quiet) -> Path:
    """debootstrap a minimal Debian once; later nodes are copied from the cache."""
    cache = rootfs_cache()
    if (cache / "usr/lib/systemd/systemd").exists() or (cache / "lib/systemd/systemd").exists():
        return cache
    for tool in ("debootstrap", "systemd-nspawn"):
        if not shutil.which(tool):
            raise LabError(f"{tool} not found: the worker node needs Debian's packages debootstrap and "
                           "systemd-container (apt-get install debootstrap systemd-container)")
    partial = cache.with_name(cache.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    progress(f"debootstrap of Debian {SUITE} from {mirror()} into {cache} (first run only, a few minutes)")
    _debootstrap(partial, progress)
    partial.rename(cache)
    return cache


def _debootstrap(partial: Path, progress: Callable[[str], None]) -> None:
    """Run debootstrap, telling each stage (Retrieving, Extracting, Unpacking, Configuring...) and its count."""
    proc = subprocess.Popen(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(partial),
                             mirror()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(DEBOOTSTRAP_TIMEOUT_S, proc.kill)
    timer.start()
    tail: deque[str] = deque(maxlen=40)
    counts: dict[str, int] = {}  # per stage: Retrieving and Validating alternate package by package
    try:
        for line in proc.stdout:
            tail.append(line)
            if not line.startswith("I: "):
                continue
            word = line[3:].split(" ", 1)[0]
            counts[word] = count = counts.get(word, 0) + 1
            if count == 1 or count % 50 == 0:
                progress(f"  {line[3:].strip()}" + (f" ({count} so far)" if count > 1 else ""))
        returncode = proc.wait()
    finally:
        timer.cancel()
    if returncode != 0:
        raise LabError(f"debootstrap of Debian {SUITE} failed (exit {returncode}; killed after "
                       f"{DEBOOTSTRAP_TIMEOUT_S:.0f}s if negative):\n{''.join(tail)[-2000:]}")


def node_ip(cluster: ClusterSpec, index: int = 0) -> str:
    return cluster.gateway.rsplit(".", 1)[0] + f".{100 + index}"


def hostname(cluster: ClusterSpec, index: int = 0) -> str:
    return f"hn{index}-{cluster.host_prefix}.{cluster.domain}"


def machine(index: int) -> str:
    return "kl-node" if index == 0 else f"kl-node{index + 1}"


def _configure(root: Path, paths: Paths, cluster: ClusterSpec, index: int) -> Path:
    """Static address on host0, hostname, /etc/hosts of its network, the lab's SSH key (one for every node)."""
    fqdn, ip = hostname(cluster, index), node_ip(cluster, index)
    (root / "etc/hostname").write_text(fqdn.split(".")[0] + "\n")
    hosts = ["127.0.0.1 localhost", f"{ip} {fqdn} {fqdn.split('.')[0]}"]
    hosts += [f"{h.ip} {h.fqdn} {h.short}" for h in cluster.hosts()]
    (root / "etc/hosts").write_text("\n".join(hosts) + "\n")
    net = root / "etc/systemd/network"
    net.mkdir(parents=True, exist_ok=True)
    (net / "10-host0.network").write_text(
        f"[Match]\nName=host0\n\n[Network]\nAddress={ip}/{cluster.prefixlen}\nGateway={cluster.gateway}\n")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit, target in (("systemd-networkd.service", "/lib/systemd/system/systemd-networkd.service"),
                         ("ssh.service", "/lib/systemd/system/ssh.service")):
        link = wants / unit
        if not link.is_symlink():
            link.symlink_to(target)
    key = paths.node_dir / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kafka-lab", "-f", str(key)], check=True)
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    os.chmod(ssh / "authorized_keys", 0o600)
    return key


def running(paths: Paths, index: int = 0) -> bool:
    return _pid(paths, index) is not None


def _pid(paths: Paths, index: int) -> int | None:
    return pid_from(paths.node_home(index) / "nspawn.pid")


def booted(paths: Paths) -> list[dict]:
    """node.json of every running node, in order."""
    return [json.loads((paths.node_home(i) / "node.json").read_text()) for i in range(MAX_NODES)
            if running(paths, i) and (paths.node_home(i) / "node.json").exists()]


# Where Debian's update-ca-certificates picks up a local CA (the secure lab's), into /etc/ssl/certs.
NODE_CA = "usr/local/share/ca-certificates/kafka-lab-ca.crt"


def up(paths: Paths, cluster: ClusterSpec, progress: Callable[[str], None] = _quiet, ca: Path | None = None,
       index: int = 0) -> None:
    """Boot node `index` (idempotent) and wait until it accepts SSH; `ca`: the node trusts it (its system store)."""
    if not shutil.which("ssh-keygen") or not shutil.which("ssh"):
        raise LabError("ssh and ssh-keygen not found: install Debian's openssh-client")
    if not 0 <= index < MAX_NODES:
        raise LabError(f"The lab has room for {MAX_NODES} worker nodes (node {index + 1} asked)")
    home = paths.node_home(index)
    home.mkdir(parents=True, exist_ok=True)
    paths.node_dir.mkdir(parents=True, exist_ok=True)  # the key's
    root = home / ("rootfs" if SUITE == DEFAULT_SUITE else f"rootfs-{SUITE}")
    if not root.exists():
        cache = ensure_rootfs(progress)
        progress(f"copying the Debian rootfs to {root}")
        subprocess.run(["cp", "-a", "--reflink=auto", str(cache), str(root)], check=True)
        (root / "etc/machine-id").write_text("")  # each node its own, made at its first boot
    key = _configure(root, paths, cluster, index)
    if ca is not None:
        (root / NODE_CA).parent.mkdir(parents=True, exist_ok=True)
        (root / NODE_CA).write_bytes(ca.read_bytes())
    ip = node_ip(cluster, index)
    if _pid(paths, index) is None:
        progress(f"booting worker node {index + 1} (systemd-nspawn {machine(index)}), waiting for SSH at {ip}")
        log = open(home / "nspawn.log", "ab")
        proc = subprocess.Popen(
            ["systemd-nspawn", "--boot", f"--machine={machine(index)}", f"--directory={root}",
             f"--network-bridge={cluster.bridge}", "--register=no", "--keep-unit", "--console=passive", "--resolv-conf=off",
             "--timezone=off", "--link-journal=no"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (home / "nspawn.pid").write_text(str(proc.pid))
    _wait_ssh(paths, index, ip, key)
    if ca is not None:
        trust_ca(key, ip)
    (home / "node.json").write_text(json.dumps(
        {"hostname": hostname(cluster, index), "ip": ip, "key": str(key), "user": "root", "suite": SUITE}, indent=2))


def inventory_host(cluster: ClusterSpec, index: int) -> dict[str, str]:
    """Ansible's connection variables for node `index`, as inventory/lab gives them for the first (lab-node)."""
    return {"ansible_host": node_ip(cluster, index), "ansible_user": "root",
            "ansible_ssh_private_key_file": "{{ kafka_lab_home }}/node/id_ed25519",
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}


def ssh_argv(key: Path, ip: str, *command: str) -> list[str]:
    return ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", f"root@{ip}", *command]


def _wait_ssh(paths: Paths, index: int, ip: str, key: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    last = ""
    log = paths.node_home(index) / "nspawn.log"
    while time.monotonic() < deadline:
        if _pid(paths, index) is None:
            raise LabError(f"Worker node {index + 1} stopped while booting; see {log}")
        try:
            socket.create_connection((ip, 22), timeout=1).close()
            proc = subprocess.run(ssh_argv(key, ip, "systemctl", "is-system-running", "--wait"),
                                  capture_output=True, text=True, timeout=60)
            last = proc.stdout.strip() or proc.stderr.strip()
            if last in ("running", "degraded"):
                return
        except (OSError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise LabError(f"Worker node {index + 1} did not accept SSH at {ip} within {BOOT_TIMEOUT_S:.0f}s "
                   f"(last: {last}); see {log}")


def trust_ca(key: Path, ip: str) -> None:
    """update-ca-certificates on the running node: the CA copied into its rootfs joins /etc/ssl/certs."""
    proc = subprocess.run(ssh_argv(key, ip, "update-ca-certificates"), capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise LabError(f"update-ca-certificates on the worker node failed: {(proc.stdout + proc.stderr)[-1000:]}")


def down(paths: Paths, keep: int = 0) -> None:
    """Power off every node from index `keep` on, cleanly (nspawn turns SIGTERM into a poweroff), SIGKILL after a
    bound."""
    for index in range(keep, MAX_NODES):
        pid = _pid(paths, index)
        if pid is None:
            continue
        terminate(pid, STOP_TIMEOUT_S)
        (paths.node_home(index) / "nspawn.pid").unlink(missing_ok=True)
