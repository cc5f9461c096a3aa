"""The worker node: a Debian machine booted by systemd-nspawn on the secondary network.

The article runs MirrorMaker on the secondary's head node; the mirror_worker role deploys the
worker to this node over SSH. systemd is PID 1 inside, sshd accepts the lab's key, Python 3 is
installed, and the node reaches both clusters' brokers by IP (routed via the root namespace).
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

MACHINE = "kl-node"
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


def node_ip(cluster: ClusterSpec) -> str:
    return cluster.gateway.rsplit(".", 1)[0] + ".100"


def hostname(cluster: ClusterSpec) -> str:
    return f"hn0-{cluster.host_prefix}.{cluster.domain}"


def _configure(root: Path, paths: Paths, cluster: ClusterSpec) -> Path:
    """Static address on host0, hostname, /etc/hosts of its network, the lab's SSH key."""
    fqdn, ip = hostname(cluster), node_ip(cluster)
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


def running(paths: Paths) -> bool:
    return _pid(paths) is not None


def _pid(paths: Paths) -> int | None:
    return pid_from(paths.node_dir / "nspawn.pid")


# Where Debian's update-ca-certificates picks up a local CA (the secure lab's), into /etc/ssl/certs.
NODE_CA = "usr/local/share/ca-certificates/kafka-lab-ca.crt"


def up(paths: Paths, cluster: ClusterSpec, progress: Callable[[str], None] = _quiet, ca: Path | None = None) -> None:
    """Boot the node (idempotent) and wait until it accepts SSH; `ca`: the node trusts it (its system store)."""
    if not shutil.which("ssh-keygen") or not shutil.which("ssh"):
        raise LabError("ssh and ssh-keygen not found: install Debian's openssh-client")
    paths.node_dir.mkdir(parents=True, exist_ok=True)
    root = paths.node_dir / ("rootfs" if SUITE == DEFAULT_SUITE else f"rootfs-{SUITE}")
    if not root.exists():
        cache = ensure_rootfs(progress)
        progress(f"copying the Debian rootfs to {root}")
        subprocess.run(["cp", "-a", "--reflink=auto", str(cache), str(root)], check=True)
    key = _configure(root, paths, cluster)
    if ca is not None:
        (root / NODE_CA).parent.mkdir(parents=True, exist_ok=True)
        (root / NODE_CA).write_bytes(ca.read_bytes())
    if _pid(paths) is None:
        progress(f"booting the worker node (systemd-nspawn {MACHINE}), waiting for SSH at {node_ip(cluster)}")
        log = open(paths.node_dir / "nspawn.log", "ab")
        proc = subprocess.Popen(
            ["systemd-nspawn", "--boot", f"--machine={MACHINE}", f"--directory={root}",
             f"--network-bridge={cluster.bridge}", "--register=no", "--keep-unit", "--console=passive", "--resolv-conf=off",
             "--timezone=off", "--link-journal=no"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (paths.node_dir / "nspawn.pid").write_text(str(proc.pid))
    _wait_ssh(paths, node_ip(cluster), key)
    if ca is not None:
        trust_ca(key, node_ip(cluster))
    (paths.node_dir / "node.json").write_text(json.dumps(
        {"hostname": hostname(cluster), "ip": node_ip(cluster), "key": str(key), "user": "root", "suite": SUITE}, indent=2))


def ssh_argv(key: Path, ip: str, *command: str) -> list[str]:
    return ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", f"root@{ip}", *command]


def _wait_ssh(paths: Paths, ip: str, key: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        if _pid(paths) is None:
            raise LabError(f"The worker node stopped while booting; see {paths.node_dir / 'nspawn.log'}")
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
    raise LabError(f"The worker node did not accept SSH at {ip} within {BOOT_TIMEOUT_S:.0f}s (last: {last}); "
                   f"see {paths.node_dir / 'nspawn.log'}")


def trust_ca(key: Path, ip: str) -> None:
    """update-ca-certificates on the running node: the CA copied into its rootfs joins /etc/ssl/certs."""
    proc = subprocess.run(ssh_argv(key, ip, "update-ca-certificates"), capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise LabError(f"update-ca-certificates on the worker node failed: {(proc.stdout + proc.stderr)[-1000:]}")


def down(paths: Paths) -> None:
    """Power the node off cleanly (nspawn turns SIGTERM into a poweroff), SIGKILL after a bound."""
    pid = _pid(paths)
    if pid is None:
        return
    terminate(pid, STOP_TIMEOUT_S)
    (paths.node_dir / "nspawn.pid").unlink(missing_ok=True)
