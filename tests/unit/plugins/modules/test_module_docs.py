"""Every module's DOCUMENTATION, EXAMPLES and RETURN parse as YAML (ansible-doc shows nothing for a module whose
documentation does not: a ': ' inside a plain scalar is enough)."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

MODULES = sorted(p.stem for p in (Path(__file__).resolve().parents[4] / "plugins/modules").glob("*.py")
                 if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_documentation_parses(name):
    module = importlib.import_module(f"ansible_collections.ambari_kafka.mirroring.plugins.modules.{name}")
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name and doc["options"] is not None
    yaml.safe_load(module.EXAMPLES)
    yaml.safe_load(module.RETURN)


FRAGMENTS = sorted(p.stem for p in (Path(__file__).resolve().parents[4] / "plugins/doc_fragments").glob("*.py")
                   if p.stem != "__init__")


@pytest.mark.parametrize("name", FRAGMENTS)
def test_doc_fragments_parse(name):
    fragment = importlib.import_module(f"ansible_collections.ambari_kafka.mirroring.plugins.doc_fragments.{name}")
    parts = {k: v for k, v in vars(fragment.ModuleDocFragment).items() if k.isupper() and isinstance(v, str)}
    assert parts and all(yaml.safe_load(text)["options"] for text in parts.values())
