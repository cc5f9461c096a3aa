"""kafka-mirror as the role deploys it: a systemd service on the lab's worker node, for faults of the node itself.

The node's kafka-mirror is the one the mirror_worker role installed (setup_mirroring.yml); the suite adds a unit
of its own beside the role's, enabled like it, so that it comes back after a reboot as the role's does.
"""
from __future__ import annotations

import time

from mirrorbench.clusters import BenchError
from mirrorbench.tools import Job
from mirrorfaults import controls

UNIT = "kafka-mirror-faults"
VENV = "/opt/kafka-mirror/venv"  # the mirror_worker role's mirror_worker_home
CONF = f"/etc/{UNIT}"
UNIT_TEXT = f"""[Unit]
Description=kafka-mirror for the fault suite
After=network-online.target
Wants=network-online.target

[Service]
ExecStart={VENV}/bin/kafka-mirror --config {CONF}/worker.yaml
Restart=on-failure
RestartSec=5
TimeoutStopSec=120
StateDirectory={UNIT}

[Install]
WantedBy=multi-user.target
"""


class NodeService:
    """The same surface as runner.Supervised: stop(), kill9(), exits, restarts."""

    def __init__(self, lab, job: Job) -> None:
        self.lab = lab
        self.exits: list[tuple[float, int]] = []
        if "not-found" in controls.node_ssh(lab, "test", "-x", f"{VENV}/bin/kafka-mirror", "||", "echo",
                                            "not-found"):
            raise BenchError("kafka-mirror is not installed on the node: run `ansible-playbook setup-mirroring.yml "
                             "-i inventory/lab` first (make faults does)")
        producer = "".join(f"    {k}: '{v}'\n" for k, v in job.producer_extra.items())
        worker = (f"consumer:\n    bootstrap.servers: '{job.primary}'\n    group.id: 'bench-{job.run_id}'\n"
                  f"    auto.offset.reset: earliest\nproducer:\n    bootstrap.servers: '{job.secondary}'\n{producer}"
                  f"include: '{job.topic}'\nnum_streams: {job.parallelism}\nmetrics_port: 0\n"
                  f"instance_id: 'node-{job.run_id}'\n")
        controls.node_ssh(lab, "mkdir", "-p", CONF)
        controls.node_ssh(lab, "sh", "-c", f"umask 077; cat > {CONF}/worker.yaml", stdin=worker)
        controls.node_ssh(lab, "sh", "-c", f"cat > /etc/systemd/system/{UNIT}.service", stdin=UNIT_TEXT)
        controls.node_ssh(lab, "systemctl", "daemon-reload")
        controls.node_ssh(lab, "systemctl", "enable", "--now", UNIT)

    def kill9(self) -> None:
        controls.node_ssh(self.lab, "systemctl", "kill", "-s", "KILL", UNIT)

    @property
    def restarts(self) -> int:
        return int(controls.node_ssh(self.lab, "systemctl", "show", "-p", "NRestarts", "--value", UNIT).strip()
                   or 0)

    def log_text(self) -> str:
        """The unit's journal on the node: what runner.log_notes reads (it is gone with the unit after stop())."""
        return controls.node_ssh(self.lab, "journalctl", "-u", UNIT, "--no-pager", "-o", "cat", check=False)

    def stop(self) -> int:
        restarts = self.restarts
        controls.node_ssh(self.lab, "systemctl", "stop", UNIT, timeout=180)
        code = int(controls.node_ssh(self.lab, "systemctl", "show", "-p", "ExecMainStatus", "--value", UNIT)
                   .strip() or 0)
        self.exits += [(time.monotonic(), -1)] * restarts + [(time.monotonic(), code)]
        controls.node_ssh(self.lab, "systemctl", "disable", UNIT)
        controls.node_ssh(self.lab, "rm", "-rf", CONF, f"/etc/systemd/system/{UNIT}.service")
        controls.node_ssh(self.lab, "systemctl", "daemon-reload")
        return code


class NodeMirror:
    """kafka-mirror on the node, as deployed: a tool of the suite like the others."""
    name = "kafka-mirror (node)"

    def supervise(self, job: Job, lab, runtime, name: str = "tool") -> NodeService:
        return NodeService(lab, job)

    @staticmethod
    def internal_topics(run_id: str) -> list[str]:
        return []
