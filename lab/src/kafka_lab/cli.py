"""kafka-lab up | down | destroy | status | exec | fetch | node: the lab's command line."""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kafka_lab import network, probe, runtime
from kafka_lab.broker import BrokerHost
from kafka_lab.client import AmbariClient
from kafka_lab.errors import LabError
from kafka_lab.procs import pid_from, terminate
from kafka_lab.layout import DEFAULT_HOME, KAFKA_PORT, ClusterSpec, LabConfig, Paths, load_config

PASSWORD_ENV = "KAFKA_LAB_AMBARI_PASSWORD"
API_TIMEOUT_S = 30.0
START_TIMEOUT_S = 180.0


def client_for(config: LabConfig, cluster: ClusterSpec) -> AmbariClient:
    return AmbariClient(f"http://127.0.0.1:{cluster.port}", config.username, read_password(Paths(config.home)))


def read_password(paths: Paths) -> str:
    return paths.password_file.read_text().strip()


def ensure_password(paths: Paths) -> None:
    """The API password: $KAFKA_LAB_AMBARI_PASSWORD, else the stored one, else a new random one (0600)."""
    wanted = os.environ.get(PASSWORD_ENV)
    if not wanted and paths.password_file.exists():
        return
    paths.home.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write((wanted or secrets.token_urlsafe(18)) + "\n")


def daemon_pid(paths: Paths) -> int | None:
    return pid_from(paths.daemon_pid)


def start_daemon(paths: Paths) -> None:
    log = open(paths.daemon_log, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "kafka_lab.daemon", "--home", str(paths.home)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    paths.daemon_pid.write_text(str(proc.pid))


def stop_daemon(paths: Paths) -> None:
    pid = daemon_pid(paths)
    if pid is None:
        return
    terminate(pid, grace_s=10)
    paths.daemon_pid.unlink(missing_ok=True)


def require_free_ports(config: LabConfig) -> None:
    """Another lab (another --home) or another program on our ports would answer in our place."""
    for cluster in config.clusters():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", cluster.port))
            except OSError:
                raise LabError(f"Port {cluster.port} (Ambari API of {cluster.name}) is in use; if another lab "
                               "runs from a different home, stop it first (`kafka-lab --home DIR down`)") from None


def wait_api(config: LabConfig) -> None:
    for cluster in config.clusters():
        client = client_for(config, cluster)
        deadline = time.monotonic() + API_TIMEOUT_S
        while True:
            try:
                if client.call("GET", "clusters").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"The Ambari API of {cluster.name} did not answer on port {cluster.port} within "
                               f"{API_TIMEOUT_S:.0f}s; see {Paths(config.home).daemon_log}")
            time.sleep(0.1)


def start_brokers(config: LabConfig) -> None:
    """Start KAFKA on every cluster through its own Ambari API, as an operator would."""
    body = {"RequestInfo": {"context": "Start Kafka (kafka-lab up)",
                            "operation_level": {"level": "SERVICE", "cluster_name": "", "service_name": "KAFKA"}},
            "Body": {"ServiceInfo": {"state": "STARTED"}}}
    pending = []
    for cluster in config.clusters():
        client = client_for(config, cluster)
        body["RequestInfo"]["operation_level"]["cluster_name"] = cluster.name
        resp = client.call("PUT", f"clusters/{cluster.name}/services/KAFKA", body)
        if resp.status == 202:
            pending.append((cluster, client, resp.json()["Requests"]["id"]))
        elif resp.status != 200:
            raise LabError(f"Starting Kafka on {cluster.name} answered {resp.status}: {resp.text}")
    for cluster, client, request_id in pending:
        info = client.wait_request(cluster.name, request_id, START_TIMEOUT_S)
        if info["request_status"] != "COMPLETED":
            tasks = client.get(f"clusters/{cluster.name}/requests/{request_id}/tasks?fields=Tasks/*")["items"]
            why = "\n".join(f"{t['Tasks']['host_name']}: {t['Tasks']['stderr']}" for t in tasks
                            if t["Tasks"]["status"] != "COMPLETED")
            raise LabError(f"Starting Kafka on {cluster.name} ended {info['request_status']}:\n{why}")


def wait_metadata(config: LabConfig) -> None:
    """Every real broker answers a Metadata request at its IP."""
    deadline = time.monotonic() + START_TIMEOUT_S
    for cluster in config.clusters():
        for host in [] if cluster.simulated else cluster.hosts():
            while True:
                try:
                    probe.metadata(host.ip, KAFKA_PORT, timeout=1.0)
                    break
                except OSError as exc:
                    if time.monotonic() > deadline:
                        raise LabError(f"Broker {host.fqdn} ({host.ip}:{KAFKA_PORT}) does not answer Metadata "
                                       f"requests: {exc}") from None
                    time.sleep(0.2)


def cmd_up(args: argparse.Namespace) -> None:
    network.require_net_admin()
    paths = Paths(args.home)
    previous = load_config(args.home)
    config = LabConfig(home=args.home, brokers=args.brokers or (previous.brokers if previous else 3),
                       ambari_version=args.ambari_version or (previous.ambari_version if previous else "2.7"),
                       gateway_auth=args.gateway_auth if args.gateway_auth is not None else (
                           previous.gateway_auth if previous else False),
                       sim_clusters=args.sim_clusters if args.sim_clusters is not None else (
                           previous.sim_clusters if previous else 0),
                       node=args.node if args.node is not None else (previous.node if previous else False))
    if previous and previous.brokers != config.brokers:
        raise LabError(f"This lab has {previous.brokers} broker(s) per cluster; to change it run "
                       f"`kafka-lab destroy` first (it deletes the lab's state in {args.home})")
    runtime.locate()
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.host_view.mkdir(exist_ok=True)
    ensure_password(paths)
    restart_api = previous != config or bool(os.environ.get(PASSWORD_ENV)) or daemon_pid(paths) is None
    if restart_api:
        stop_daemon(paths)
        require_free_ports(config)
    paths.config.write_text(config.to_json())
    real = [c for c in config.clusters() if not c.simulated]
    network.up(paths, real)
    for cluster in real:
        network.write_etc_hosts(paths, cluster)
    if restart_api:
        start_daemon(paths)
    wait_api(config)
    start_brokers(config)
    wait_metadata(config)
    if config.node:
        from kafka_lab import node
        node.up(paths, real[1])
    print_status(config)


def stop_brokers(config: LabConfig, grace_s: float) -> None:
    kafka = runtime.locate(fetch=False)
    brokers = [BrokerHost(Paths(config.home), c, h, kafka) for c in config.clusters() if not c.simulated
               for h in c.hosts()]
    with ThreadPoolExecutor(max_workers=max(1, len(brokers))) as pool:
        list(pool.map(lambda b: b.stop(grace_s), brokers))


def cmd_down(args: argparse.Namespace) -> None:
    paths = Paths(args.home)
    config = load_config(args.home)
    if config is None:
        print(f"No lab in {args.home}; nothing to stop")
        return
    from kafka_lab import node
    node.down(paths)
    stop_daemon(paths)
    stop_brokers(config, grace_s=20.0)
    removed = network.down(paths)
    print(f"Lab stopped: brokers, Ambari API and {len(removed)} namespaces/bridges removed; "
          f"state kept in {args.home}")


def cmd_destroy(args: argparse.Namespace) -> None:
    cmd_down(args)
    if args.home.exists():
        shutil.rmtree(args.home)
    print(f"Lab state deleted: {args.home}")


def print_status(config: LabConfig) -> None:
    paths = Paths(config.home)
    source = f"${PASSWORD_ENV}" if os.environ.get(PASSWORD_ENV) else str(paths.password_file)
    print(f"Lab home: {config.home}  (Ambari {config.ambari_version} mode"
          f"{', gateway auth (401)' if config.gateway_auth else ''})")
    print(f"Ambari API: {'running, pid ' + str(daemon_pid(paths)) if daemon_pid(paths) else 'stopped'}; "
          f"log {paths.daemon_log}")
    print(f"Credentials: user '{config.username}', password in {source} (mode 0600)")
    for cluster in config.clusters():
        if cluster.simulated:
            continue
        print(f"\n{cluster.name} ({cluster.role}): http://127.0.0.1:{cluster.port}  network {cluster.subnet} "
              f"on {cluster.bridge}")
        for host in cluster.hosts():
            pid = BrokerHost(paths, cluster, host, runtime.locate(fetch=False)).pid()
            state = f"running (pid {pid})" if pid else "stopped"
            print(f"  {host.fqdn:40} {host.ip:12} broker {state}; logs {paths.host_dir(host.fqdn) / 'log'}")
        print(f"  bootstrap servers: {','.join(f'{h.ip}:{KAFKA_PORT}' for h in cluster.hosts())}")
    sims = [c for c in config.clusters() if c.simulated]
    if sims:
        print(f"\n{len(sims)} simulated clusters on ports {sims[0].port}-{sims[-1].port}")
    node_file = paths.node_dir / "node.json"
    from kafka_lab import node
    if node_file.exists() and node.running(paths):
        info = json.loads(node_file.read_text())
        print(f"\nWorker node: {info['hostname']} {info['ip']} (ssh -i {info['key']} root@{info['ip']})")


def cmd_status(args: argparse.Namespace) -> None:
    config = load_config(args.home)
    if config is None:
        raise LabError(f"No lab in {args.home}; start one with `kafka-lab up`")
    print_status(config)


def cmd_exec(args: argparse.Namespace) -> None:
    config = load_config(args.home)
    if config is None:
        raise LabError(f"No lab in {args.home}; start one with `kafka-lab up`")
    hosts = {h.fqdn: h for c in config.clusters() if not c.simulated for h in c.hosts()}
    hosts.update({h.short: h for h in list(hosts.values())})
    if args.host not in hosts:
        raise LabError(f"Unknown host '{args.host}'; the lab's hosts are: {', '.join(sorted(hosts))}")
    argv = network.host_exec_argv(Paths(args.home), hosts[args.host], args.argv or ["bash"])
    os.execvp(argv[0], argv)


def cmd_fetch(args: argparse.Namespace) -> None:
    kafka = runtime.locate()
    print(f"Kafka {runtime.KAFKA_VERSION} jars in {kafka.libs}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kafka-lab", description=__doc__)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="lab state (default $KAFKA_LAB_HOME or "
                                                                        "/var/lib/kafka-lab)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="create or resume the lab (idempotent)")
    up.add_argument("--brokers", type=int, help="brokers per cluster (default 3; fixed once created)")
    up.add_argument("--ambari-version", choices=("2.6", "2.7"), help="answer like Ambari 2.6 or 2.7 (default 2.7)")
    up.add_argument("--gateway-auth", action=argparse.BooleanOptionalAction, default=None,
                    help="answer bad credentials with 401 like HDInsight's gateway")
    up.add_argument("--sim-clusters", type=int, help="additional simulated clusters for fleet tests")
    up.add_argument("--node", action=argparse.BooleanOptionalAction, default=None,
                    help="also boot the systemd worker node (nspawn); kept for later `up`s")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything, keep the state").set_defaults(func=cmd_down)
    sub.add_parser("destroy", help="down, then delete the state").set_defaults(func=cmd_destroy)
    sub.add_parser("status", help="clusters, URLs, hosts, brokers").set_defaults(func=cmd_status)
    ex = sub.add_parser("exec", help="run a command on a lab host (its namespaces)")
    ex.add_argument("host")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    ex.set_defaults(func=cmd_exec)
    sub.add_parser("fetch", help="fetch the Kafka jars into the cache").set_defaults(func=cmd_fetch)
    args = parser.parse_args(argv)
    args.home = args.home.resolve()
    if getattr(args, "argv", None) and args.argv[0] == "--":
        args.argv = args.argv[1:]
    try:
        args.func(args)
    except LabError as exc:
        print(f"kafka-lab: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
