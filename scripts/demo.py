"""make demo, after the lab and setup-mirroring.yml: records typed on the primary, read back from the secondary,
mirrored by the kafka-mirror service the playbook deployed on the worker node; then its metrics and health, read on
the node itself (they answer on its loopback only)."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOME = Path(os.environ.get("KAFKA_LAB_HOME", "/var/lib/kafka-lab"))


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def cluster_info(url: str) -> dict:
    """ambari_cluster_info, as a user would call it (the password stays in the environment)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
           "ANSIBLE_NOCOLOR": "1", "AMBARI_URL": url, "AMBARI_PASSWORD": (HOME / "ambari-password").read_text().strip()}
    out = subprocess.run([str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-e",
                          f"ansible_python_interpreter={sys.executable}", "-m",
                          "ambari_kafka.mirroring.ambari_cluster_info"], capture_output=True, text=True, env=env,
                         cwd=ROOT, check=True).stdout
    return json.loads(out[out.index("=>") + 2:])


def kafka_tool(main_class: str, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
    """Kafka's own console tools, from the same 3.9.1 jars the lab runs."""
    from kafka_lab.runtime import locate

    argv = locate(fetch=False).java_cmd(main_class, *args)
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=True).stdout


def main() -> None:
    node = json.loads((HOME / "node/node.json").read_text())
    step("Brokers, from Ambari (ambari_cluster_info) instead of writing IP addresses down")
    primary = cluster_info("http://127.0.0.1:8080")["bootstrap_servers"]
    secondary = cluster_info("http://127.0.0.1:8081")["bootstrap_servers"]
    print(f"primary:   {primary}\nsecondary: {secondary}")

    step(f"kafka-mirror runs as a systemd service on the worker node {node['hostname']} ({node['ip']})")
    status = on_node(node, "systemctl", "status", "kafka-mirror", "--no-pager", "--lines=0")
    print("\n".join(status.splitlines()[:4]))

    run_id = uuid.uuid4().hex[:8]
    lines = [f"{run_id} hello from the primary #{i}" for i in range(5)]
    step(f"Type 5 records on the primary with Kafka's console producer (run {run_id})")
    kafka_tool("kafka.tools.ConsoleProducer", "--bootstrap-server", primary, "--topic", "testtopic",
               stdin="\n".join(lines) + "\n")
    print("\n".join(f"  > {line}" for line in lines))

    step("Read them on the secondary with Kafka's console consumer")
    found = read_back(secondary, run_id, len(lines))
    print("\n".join(f"  < {line}" for line in found))

    base = "http://127.0.0.1:9464"
    step(f"The mirror's metrics ({base}/metrics) and health ({base}/health), on the node")
    for line in http_on_node(node, f"{base}/metrics").splitlines():
        if line.startswith(("kafka_mirror_records_total", "kafka_mirror_assigned_partitions",
                            "kafka_mirror_seconds_since_last_commit")):
            print(f"  {line}")
    print(f"  /health: {http_on_node(node, f'{base}/health')[:150]}...")


def on_node(node: dict, *argv: str) -> str:
    return subprocess.run(["ssh", "-i", node["key"], "-o", "StrictHostKeyChecking=no", "-o",
                           "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"root@{node['ip']}",
                           shlex.join(argv)], capture_output=True, text=True, timeout=60).stdout


# The body of any answer: a 503 from /health carries the reason per stream.
HTTP_GET = """import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
except urllib.error.HTTPError as err:
    print(err.read().decode())"""


def http_on_node(node: dict, url: str) -> str:
    return on_node(node, "python3", "-c", HTTP_GET, url)


def read_back(bootstrap: str, run_id: str, n: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = kafka_tool("org.apache.kafka.tools.consumer.ConsoleConsumer", "--bootstrap-server", bootstrap,
                         "--topic", "testtopic", "--from-beginning", "--timeout-ms", "5000")
        found = sorted(line for line in out.splitlines() if line.startswith(run_id))
        if len(found) >= n:
            return found
    raise SystemExit(f"the records of run {run_id} did not all arrive on the secondary within {timeout}s")


if __name__ == "__main__":
    main()
