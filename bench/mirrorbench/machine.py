"""What the figures were measured on."""
from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

import confluent_kafka

from kafka_lab.layout import DEFAULT_HOME, load_config
from kafka_lab.runtime import DEFAULT_VERSION, locate


def lab_kafka_version() -> str:
    """The Kafka release the lab was brought up with (kafka-lab up --kafka-version), as its saved config says."""
    config = load_config(Path(os.environ.get("KAFKA_LAB_HOME", DEFAULT_HOME)))
    return config.kafka_version if config else DEFAULT_VERSION


def facts(lab) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    mem = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1)) * 1024
    version = lab_kafka_version()
    java = subprocess.run([str(locate(version=version).java), "-version"], capture_output=True,
                          text=True).stderr.splitlines()
    return {"cores": os.cpu_count(), "cpu": model.group(1) if model else "unknown", "memory_gib": round(mem / 2**30, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "confluent_kafka": confluent_kafka.__version__, "librdkafka": confluent_kafka.libversion()[0],
            "kafka": version, "java": java[0] if java else "unknown",
            "lab": f"2 clusters x 3 brokers (KRaft), RF 2, on the same {os.cpu_count()} cores as the tools; "
                   f"primary {lab.primary}, secondary {lab.secondary}"}
