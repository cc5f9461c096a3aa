"""make demo: the lab, the playbook (network, testtopic: RF 2, 8 partitions), then the article's mirror command,
records typed on the primary read back from the secondary.

Until the mirror_worker role deploys kafka-mirror to the worker node as a systemd service (issue 5), the demo runs
it on the controller with the article's command line and files.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def cluster_info(url: str) -> dict:
    """ambari_cluster_info, as a user would call it (the password stays in the environment)."""
    home = os.environ.get("KAFKA_LAB_HOME", "/var/lib/kafka-lab")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
           "ANSIBLE_NOCOLOR": "1", "AMBARI_URL": url,
           "AMBARI_PASSWORD": Path(home, "ambari-password").read_text().strip()}
    out = subprocess.run([str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-e",
                          f"ansible_python_interpreter={sys.executable}", "-m",
                          "ambari_kafka.mirroring.ambari_cluster_info"], capture_output=True, text=True, env=env,
                         cwd=ROOT, check=True).stdout
    return json.loads(out[out.index("=>") + 2:])


def main() -> None:
    step("Facts from Ambari (ambari_cluster_info), instead of writing IP addresses down")
    primary = cluster_info("http://127.0.0.1:8080")["bootstrap_servers"]
    secondary = cluster_info("http://127.0.0.1:8081")["bootstrap_servers"]
    print(f"primary brokers:   {primary}\nsecondary brokers: {secondary}")

    work = Path(tempfile.mkdtemp(prefix="kafka-mirror-demo-"))
    for name, text in (("consumer.properties", f"bootstrap.servers={primary}\ngroup.id=mirrorgroup\n"),
                       ("producer.properties", f"bootstrap.servers={secondary}\ncompression.type=none\n")):
        fd = os.open(work / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, text.encode())
        os.close(fd)
    argv = [str(BIN / "kafka-mirror"), "--consumer.config", str(work / "consumer.properties"), "--producer.config",
            str(work / "producer.properties"), "--whitelist", "testtopic", "--num.streams", "4"]
    step("Run the article's mirror command with kafka-mirror: " + " ".join(a if "/" not in a else Path(a).name
                                                                          for a in argv))
    log = open(work / "kafka-mirror.log", "wb")
    mirror = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                              env={**os.environ, "STATE_DIRECTORY": str(work)})
    try:
        wait_ready()
        run_id = uuid.uuid4().hex[:8]
        step(f"Type 5 records on the primary (run {run_id})")
        producer = Producer({"bootstrap.servers": primary})
        for i in range(5):
            line = f"{run_id} hello from the primary #{i}"
            producer.produce("testtopic", line.encode())
            print(f"  > {line}")
        producer.flush(30)
        step("Read them on the secondary")
        for line in read_back(secondary, run_id, 5):
            print(f"  < {line}")
        step("Metrics (http://127.0.0.1:9464/metrics) and health (/health)")
        metrics = urllib.request.urlopen("http://127.0.0.1:9464/metrics", timeout=5).read().decode()
        for line in metrics.splitlines():
            if line.startswith(("kafka_mirror_records_total", "kafka_mirror_assigned_partitions",
                                "kafka_mirror_replication_latency_seconds_count")):
                print(f"  {line}")
        print(f"  /health: {health()[:160]}...")
    finally:
        mirror.send_signal(signal.SIGTERM)
        code = mirror.wait(60)
        log.close()
        print(f"\nkafka-mirror stopped with exit code {code} (log: {work / 'kafka-mirror.log'})")


def health() -> str:
    try:
        return urllib.request.urlopen("http://127.0.0.1:9464/health", timeout=5).read().decode()
    except urllib.error.HTTPError as err:  # 503 carries the reason per stream
        return err.read().decode()


def wait_ready(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen("http://127.0.0.1:9464/health", timeout=2).status == 200:
                print("kafka-mirror is ready (every stream assigned and committing)")
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("kafka-mirror did not become ready within 60s")


def read_back(bootstrap: str, run_id: str, n: int, timeout: float = 60) -> list[str]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"demo-{run_id}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition("testtopic", p, 0) for p in range(8)])
    found: list[str] = []
    deadline = time.monotonic() + timeout
    while len(found) < n and time.monotonic() < deadline:
        for m in consumer.consume(1000, 1.0):
            if m.error() is None and m.value() and m.value().decode().startswith(run_id):
                found.append(m.value().decode())
    consumer.close()
    if len(found) < n:
        raise SystemExit(f"only {len(found)} of {n} records arrived on the secondary within {timeout}s")
    return sorted(found)


if __name__ == "__main__":
    main()
