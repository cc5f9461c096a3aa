"""kafka-mirror's package metadata says what the role accepts and what is tested on the node images."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "worker/pyproject.toml").read_text())["project"]


def declared_pythons() -> list[tuple[int, int]]:
    found = [re.fullmatch(r"Programming Language :: Python :: (\d+)\.(\d+)", c) for c in PROJECT["classifiers"]]
    return sorted((int(m[1]), int(m[2])) for m in found if m)


def test_the_oldest_python_is_the_one_the_role_accepts():
    preflight = (ROOT / "roles/mirror_worker/tasks/preflight.yml").read_text()
    role_minimum = re.search(r"_mirror_worker_node\.python is version\('(\d+)\.(\d+)', '>='\)", preflight)
    assert role_minimum, "the preflight's Python check moved"
    minimum = (int(role_minimum[1]), int(role_minimum[2]))
    assert PROJECT["requires-python"] == ">=%d.%d" % minimum
    assert declared_pythons()[0] == minimum


def test_the_declared_pythons_are_the_node_images_tested():
    # Debian bookworm (3.11), the lab's default node, and bullseye (3.9): tests/integration/test_node_images.py.
    node_images = (ROOT / "tests/integration/test_node_images.py").read_text()
    assert "Debian bullseye, Python 3.9" in node_images and "bookworm node (Python 3.11" in node_images
    assert declared_pythons() == [(3, 9), (3, 11)]
    assert "Programming Language :: Python :: Implementation :: CPython" in PROJECT["classifiers"]


def test_linux_only_and_the_collections_license():
    assert "Operating System :: POSIX :: Linux" in PROJECT["classifiers"]  # glibc Linux: the role's preflight
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert [PROJECT["license"]] == galaxy["license"]
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])  # PEP 639: the expression only
