"""Each role's meta/argument_specs.yml documents every default, with the same value (they must not drift)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_match_defaults(role):
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    options = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    for name, value in defaults.items():
        assert name in options, f"{role.name}: {name} is not documented in meta/argument_specs.yml"
        assert options[name].get("default") == value, f"{role.name}: {name} defaults differ"
        assert options[name].get("description"), f"{role.name}: {name} has no description"


def test_mirror_worker_installs_the_version_the_repository_builds():
    """`make wheel` names the wheel after worker/pyproject.toml's version; the role looks for that name."""
    root = Path(__file__).resolve().parents[2]
    pyproject = (root / "worker/pyproject.toml").read_text()
    version = next(line.split('"')[1] for line in pyproject.splitlines() if line.startswith("version = "))
    defaults = yaml.safe_load((root / "roles/mirror_worker/defaults/main.yml").read_text())
    assert defaults["mirror_worker_version"] == version
