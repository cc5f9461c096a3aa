"""Make the collection importable by its FQCN (ansible_collections.ambari_kafka.mirroring) in every test."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".collections"
link = COLLECTIONS / "ansible_collections" / "ambari_kafka" / "mirroring"
if not link.exists():
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("../../.."))
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
