"""kafka-lab up | down | destroy | status | exec | fetch | agent: the lab's command line."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from kafka_lab import network, pki, probe, runtime
from kafka_lab.broker import BrokerHost
from kafka_lab.ambari.operations import agent_marker
from kafka_lab.client import AmbariClient
from kafka_lab.errors import LabError
from kafka_lab.procs import pid_from, terminate
from kafka_lab.zookeeper import ZooKeeperServer
from kafka_lab.layout import (DEFAULT_HOME, KAFKA_PORT, SASL_SSL_PORT, ZOOKEEPER_PORT, ClusterSpec, LabConfig, Paths,
                              load_config)

PASSWORD_ENV = "KAFKA_LAB_AMBARI_PASSWORD"
API_TIMEOUT_S = 30.0
START_TIMEOUT_S = 180.0


def say(text: str) -> None:
    """Progress of `up`, on stderr: a fresh machine spends minutes fetching Kafka and building the node."""
    print(f"kafka-lab: {text}", file=sys.stderr, flush=True)


@contextmanager
def phase(text: str) -> Iterator[None]:
    start = time.monotonic()
    say(f"{text}...")
    yield
    say(f"{text}: done in {time.monotonic() - start:.0f}s")


def fetch_with_progress(version: str) -> runtime.KafkaRuntime:
    """The Kafka jars, fetched by Maven on the first run: the local repository's growth every 10 s meanwhile."""
    if runtime.fetched(version):
        return runtime.locate(version=version)
    repository = Path.home() / ".m2" / "repository"
    done = threading.Event()

    def report() -> None:
        start = time.monotonic()
        while not done.wait(10):
            size = sum(f.stat().st_size for f in repository.rglob("*.jar")) if repository.exists() else 0
            say(f"  Maven: {size / 1e6:.0f} MB of jars in {repository} after {time.monotonic() - start:.0f}s")

    watcher = threading.Thread(target=report, daemon=True)
    watcher.start()
    try:
        with phase(f"Fetching Kafka {version} and its dependencies from Maven Central into "
                   f"{runtime.cache_dir(version) / 'libs'} (first run only)"):
            return runtime.locate(version=version)
    finally:
        done.set()


def client_for(config: LabConfig, cluster: ClusterSpec) -> AmbariClient:
    paths = Paths(config.home)
    return AmbariClient(config.ambari_url(cluster), config.username, read_password(paths),
                        str(paths.ca_cert) if config.secure else None)


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


PORT_RELEASE_S = 15.0  # our own daemon, just stopped, may hold its ports a moment longer (seen after 200 clusters)


def require_free_ports(config: LabConfig) -> None:
    """Another lab (another --home) or another program on our ports would answer in our place."""
    deadline = time.monotonic() + PORT_RELEASE_S
    for cluster in config.clusters():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            while True:
                try:
                    sock.bind(("127.0.0.1", cluster.port))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise LabError(f"Port {cluster.port} (Ambari API of {cluster.name}) is in use; if another "
                                       "lab runs from a different home, stop it first (`kafka-lab --home DIR down`)"
                                       ) from None
                    time.sleep(0.2)


def wait_api(config: LabConfig) -> None:
    for cluster in config.clusters():
        client = client_for(config, cluster)
        deadline = time.monotonic() + API_TIMEOUT_S
        while True:
            try:
                if client.call("GET", "clusters").status == 200:
                    break
            except OSError:  # ssl.SSLError included: a certificate problem shows in the daemon's log
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


SCRAM_TIMEOUT_S = 30.0
# Run on a cluster host, where the brokers' advertised names resolve; the credentials come on stdin, never in argv.
SCRAM_SCRIPT = """
import json, sys
from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
job = json.load(sys.stdin)
admin = AdminClient({"bootstrap.servers": job["bootstrap"], "socket.timeout.ms": job["timeout_ms"], "log_level": 3})
info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, job["iterations"])
upsert = UserScramCredentialUpsertion(job["user"], info, job["password"].encode())
for future in admin.alter_user_scram_credentials([upsert], request_timeout=job["timeout_ms"] / 1000).values():
    future.result(timeout=job["timeout_ms"] / 1000)
"""


def create_scram_users(config: LabConfig) -> None:
    """Each cluster's client user (pki.client_user) with its password, upserted on every `up`.

    Through the Admin API over the lab's PLAINTEXT listener (KIP-554, brokers 2.7+), not `kafka-storage format
    --add-scram`: the password stays out of every process's arguments, and a later `up` (state kept, storage
    formatted long ago) still puts the stored password back. It runs on the cluster's first host: the brokers
    advertise their FQDNs until the playbook makes them advertise IPs, and only the cluster's own hosts resolve those.
    """
    paths = Paths(config.home)
    for cluster in config.clusters():
        if cluster.simulated:
            continue
        job = {"bootstrap": ",".join(f"{h.ip}:{KAFKA_PORT}" for h in cluster.hosts()), "user": pki.client_user(cluster),
               "password": pki.ensure_secret(paths.kafka_password(cluster.name)), "iterations": pki.SCRAM_ITERATIONS,
               "timeout_ms": int(SCRAM_TIMEOUT_S * 1000)}
        argv = network.host_exec_argv(paths, cluster.hosts()[0], [sys.executable, "-c", SCRAM_SCRIPT])
        try:
            proc = subprocess.run(argv, input=json.dumps(job), capture_output=True, text=True,
                                  timeout=2 * SCRAM_TIMEOUT_S + 10)
        except subprocess.TimeoutExpired:
            raise LabError(f"Creating the SCRAM user {job['user']} on {cluster.name} did not end within "
                           f"{2 * SCRAM_TIMEOUT_S + 10:.0f}s") from None
        if proc.returncode != 0:
            raise LabError(f"Creating the SCRAM user {job['user']} on {cluster.name} failed:\n{proc.stderr[-2000:]}")


def require_secure_release(config: LabConfig) -> None:
    version = tuple(int(p) for p in config.kafka_version.split("."))
    if config.secure and version < (2, 7):
        raise LabError(f"--secure needs Kafka 2.7 or later (SCRAM users are created with the Admin API, KIP-554); "
                       f"this lab runs {config.kafka_version}")


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
                       nodes=args.nodes if args.nodes is not None else (previous.nodes if previous else 0),
                       kafka_version=args.kafka_version or (previous.kafka_version if previous else
                                                            runtime.DEFAULT_VERSION),
                       secure=args.secure if args.secure is not None else (previous.secure if previous else False))
    require_secure_release(config)
    # Fixed once created: the brokers' data (KRaft or ZooKeeper metadata) belongs to the old release, and the
    # secure listeners are part of the seeded configuration history.
    for what, before, now in (("broker(s) per cluster", previous and previous.brokers, config.brokers),
                              ("as its Kafka release", previous and previous.kafka_version, config.kafka_version),
                              ("security (--secure)", previous and ("on" if previous.secure else "off"),
                               "on" if config.secure else "off")):
        if previous and before != now:
            raise LabError(f"This lab has {before} {what}; to change it to {now} run `kafka-lab destroy` first "
                           f"(it deletes the lab's state in {args.home})")
    kafka = fetch_with_progress(config.kafka_version)
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.host_view.mkdir(exist_ok=True)
    ensure_password(paths)
    if config.secure:
        with phase("Certificates (the lab's CA, Ambari's and each broker's) and SCRAM passwords"):
            pki.ensure_all(paths, config.clusters())
    # The API serves the clusters: worker nodes come and go without it.
    restart_api = (previous is None or dataclasses.replace(previous, nodes=config.nodes) != config
                   or bool(os.environ.get(PASSWORD_ENV)) or daemon_pid(paths) is None)
    if restart_api:
        stop_daemon(paths)
        require_free_ports(config)
    paths.config.write_text(config.to_json())
    real = [c for c in config.clusters() if not c.simulated]
    with phase(f"Networks of {len(real)} clusters: bridges, one namespace per broker host"):
        network.up(paths, real)
        for cluster in real:
            network.write_etc_hosts(paths, cluster)
    with phase(f"Ambari-compatible API ({config.ambari_version}) on port(s) "
               f"{', '.join(str(c.port) for c in config.clusters())}"):
        if restart_api:
            start_daemon(paths)
        wait_api(config)
    if not kafka.release.kraft:
        with phase(f"ZooKeeper of {len(real)} clusters (Kafka {config.kafka_version} runs with ZooKeeper)"):
            for cluster in real:
                ZooKeeperServer(paths, cluster, kafka).start()
    with phase(f"Starting Kafka {config.kafka_version} on {len(real)} clusters through their Ambari APIs, then "
               "every broker answering"):
        start_brokers(config)
        wait_metadata(config)
    if config.secure:
        with phase(f"SCRAM-SHA-512 users of the SASL_SSL listeners (port {SASL_SSL_PORT})"):
            create_scram_users(config)
    from kafka_lab import node
    node.down(paths, keep=config.nodes)  # fewer nodes than last time
    for index in range(config.nodes):
        with phase(f"Worker node {index + 1} of {config.nodes}"):
            node.up(paths, real[1], progress=say, ca=paths.ca_cert if config.secure else None, index=index)
    print_status(config)


def stop_brokers(config: LabConfig, grace_s: float) -> None:
    """The brokers, then (ZooKeeper mode) the ZooKeeper they registered in."""
    kafka = runtime.locate(fetch=False, version=config.kafka_version)
    real = [c for c in config.clusters() if not c.simulated]
    brokers = [BrokerHost(Paths(config.home), c, h, kafka) for c in real for h in c.hosts()]
    with ThreadPoolExecutor(max_workers=max(1, len(brokers))) as pool:
        list(pool.map(lambda b: b.stop(grace_s), brokers))
    for cluster in real:
        ZooKeeperServer(Paths(config.home), cluster, kafka).stop()


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
    kafka = runtime.locate(fetch=False, version=config.kafka_version)
    print(f"Lab home: {config.home}  (Ambari {config.ambari_version} mode"
          f"{', gateway auth (401)' if config.gateway_auth else ''}; Kafka {config.kafka_version} with "
          f"{'KRaft' if kafka.release.kraft else 'ZooKeeper'}{', ' + kafka.release.note if kafka.release.note else ''}"
          f"{', secure: HTTPS and SASL_SSL' if config.secure else ''})")
    print(f"Ambari API: {'running, pid ' + str(daemon_pid(paths)) if daemon_pid(paths) else 'stopped'}; "
          f"log {paths.daemon_log}")
    print(f"Credentials: user '{config.username}', password in {source} (mode 0600)")
    if config.secure:
        print(f"CA certificate (Ambari's and the brokers' issuer): {paths.ca_cert}")
    for cluster in config.clusters():
        if cluster.simulated:
            continue
        print(f"\n{cluster.name} ({cluster.role}): {config.ambari_url(cluster)}  network {cluster.subnet} "
              f"on {cluster.bridge}")
        for host in cluster.hosts():
            pid = BrokerHost(paths, cluster, host, kafka).pid()
            state = f"running (pid {pid})" if pid else "stopped"
            if agent_marker(paths.cluster_state(cluster.name), host.fqdn).exists():
                state += ", ambari-agent stopped (HEARTBEAT_LOST)"
            print(f"  {host.fqdn:40} {host.ip:12} broker {state}; logs {paths.host_dir(host.fqdn) / 'log'}")
        if not kafka.release.kraft:
            zk = ZooKeeperServer(paths, cluster, kafka)
            print(f"  ZooKeeper {zk.host.ip}:{ZOOKEEPER_PORT} on {zk.host.fqdn}: "
                  f"{'running (pid %d)' % zk.pid() if zk.pid() else 'stopped'}; log {zk.log_file}")
        print(f"  bootstrap servers: {','.join(f'{h.ip}:{KAFKA_PORT}' for h in cluster.hosts())}")
        if config.secure:
            print(f"  SASL_SSL ({pki.SCRAM_MECHANISM}): {','.join(f'{h.ip}:{SASL_SSL_PORT}' for h in cluster.hosts())}"
                  f"  user '{pki.client_user(cluster)}', password in {paths.kafka_password(cluster.name)} (mode 0600)")
    sims = [c for c in config.clusters() if c.simulated]
    if sims:
        print(f"\n{len(sims)} simulated clusters on ports {sims[0].port}-{sims[-1].port}")
    from kafka_lab import node
    booted = node.booted(paths)
    if booted:
        print()
    for number, info in enumerate(booted, 1):
        name = "Worker node" if number == 1 else f"Worker node {number}"
        print(f"{name}: {info['hostname']} {info['ip']} (ssh -i {info['key']} root@{info['ip']})")


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


def cmd_agent(args: argparse.Namespace) -> None:
    """Stop or start a host's ambari-agent: its heartbeat stops, so Ambari reports the host HEARTBEAT_LOST and its
    components UNKNOWN; the broker keeps running, as it does when a real agent stops."""
    config = load_config(args.home)
    if config is None:
        raise LabError(f"No lab in {args.home}; start one with `kafka-lab up`")
    hosts = {name: (c, h) for c in config.clusters() for h in c.hosts() for name in (h.fqdn, h.short)}
    if args.host not in hosts:
        raise LabError(f"Unknown host '{args.host}'; the lab's hosts are: "
                       f"{', '.join(sorted(h.fqdn for c, h in hosts.values()))}")
    cluster, host = hosts[args.host]
    marker = agent_marker(Paths(args.home).cluster_state(cluster.name), host.fqdn)
    if args.action == "stop":
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        print(f"ambari-agent on {host.fqdn} stopped: Ambari of {cluster.name} reports it HEARTBEAT_LOST")
    else:
        marker.unlink(missing_ok=True)
        print(f"ambari-agent on {host.fqdn} started: Ambari of {cluster.name} reports it HEALTHY")


def cmd_fetch(args: argparse.Namespace) -> None:
    kafka = fetch_with_progress(args.kafka_version)
    print(f"Kafka {args.kafka_version} jars in {kafka.libs}")


def node_count(text: str) -> int:
    from kafka_lab.node import MAX_NODES
    if not text.isdigit() or int(text) > MAX_NODES:
        raise argparse.ArgumentTypeError(f"give a number of worker nodes from 0 to {MAX_NODES}, not {text!r}")
    return int(text)


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
    nodes = up.add_mutually_exclusive_group()
    nodes.add_argument("--node", dest="nodes", action="store_const", const=1,
                       help="also boot a systemd worker node (nspawn); kept for later `up`s (--nodes 1)")
    nodes.add_argument("--no-node", dest="nodes", action="store_const", const=0, help="no worker node (--nodes 0)")
    nodes.add_argument("--nodes", type=node_count, metavar="N",
                       help="boot N systemd worker nodes (0 to 8), the role's workers of one pair or of several; kept "
                            "for later `up`s")
    up.add_argument("--kafka-version", choices=tuple(runtime.RELEASES),
                    help=f"the brokers' Apache Kafka release (default {runtime.DEFAULT_VERSION}, KRaft; before 3.3 "
                         "with ZooKeeper); fixed once created")
    up.add_argument("--secure", action=argparse.BooleanOptionalAction, default=None,
                    help=f"Ambari over HTTPS and a SASL_SSL listener (SCRAM-SHA-512, port {SASL_SSL_PORT}) on every "
                         "broker, certificates from the lab's own CA; fixed once created")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything, keep the state").set_defaults(func=cmd_down)
    sub.add_parser("destroy", help="down, then delete the state").set_defaults(func=cmd_destroy)
    sub.add_parser("status", help="clusters, URLs, hosts, brokers").set_defaults(func=cmd_status)
    ex = sub.add_parser("exec", help="run a command on a lab host (its namespaces)")
    ex.add_argument("host")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    ex.set_defaults(func=cmd_exec)
    fetch = sub.add_parser("fetch", help="fetch the Kafka jars into the cache")
    fetch.add_argument("--kafka-version", choices=tuple(runtime.RELEASES), default=runtime.DEFAULT_VERSION)
    fetch.set_defaults(func=cmd_fetch)
    agent = sub.add_parser("agent", help="stop or start a host's ambari-agent (stopped: Ambari reports the host "
                                         "HEARTBEAT_LOST); kept across down and up")
    agent.add_argument("action", choices=("stop", "start"))
    agent.add_argument("host")
    agent.set_defaults(func=cmd_agent)
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
