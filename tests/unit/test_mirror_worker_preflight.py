"""roles/mirror_worker/tasks/preflight.yml stops, before anything is installed, on settings the worker would refuse
at start, saying what to give. Only its first checks run here, on the controller (nothing is reached)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAY = """
- hosts: localhost
  gather_facts: false
  connection: local
  vars:
    _mirror_worker_pairs: [{name: orders}]
  tasks:
    - ansible.builtin.include_tasks: %s
""" % (ROOT / "roles" / "mirror_worker" / "tasks" / "preflight.yml")


def preflight(tmp_path: Path, **extra) -> subprocess.CompletedProcess:
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,w2,w3,", "-l", "localhost", str(play), "-e",
                           json.dumps(extra)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("groups", ["orders-service", {"orders-service": 1}])
def test_sync_groups_not_a_list_stop_naming_the_variable_and_a_list(tmp_path, groups):
    proc = preflight(tmp_path, mirror_worker_offset_map=True, mirror_worker_sync_groups=groups)
    assert proc.returncode != 0
    assert "mirror_worker_sync_groups is %s: it is a list of consumer group names, for example " \
           "mirror_worker_sync_groups: [orders-service, billing]" % json.dumps(groups) \
        in proc.stdout.replace('\\"', '"')  # ansible-core 2.16 escapes quotes in a failed assert's msg


def test_a_list_of_sync_groups_passes_that_check(tmp_path):
    proc = preflight(tmp_path, mirror_worker_offset_map=True, mirror_worker_sync_groups=["orders-service"])
    assert "it is a list of consumer group names" not in proc.stdout
    assert "Check that synced groups have an offset map to go to" in proc.stdout


@pytest.mark.parametrize("offset_map, groups", [(False, []), (True, [])])
def test_synced_group_offsets_without_the_map_or_groups_stop_naming_what_to_set(tmp_path, offset_map, groups):
    proc = preflight(tmp_path, mirror_worker_offset_map=offset_map, mirror_worker_sync_groups=groups,
                     mirror_worker_sync_group_offsets=True)
    assert proc.returncode != 0
    assert "set mirror_worker_offset_map to true and name the groups in mirror_worker_sync_groups" in proc.stdout


def test_producer_placement_with_the_offset_map_stops_naming_both_settings(tmp_path):
    proc = preflight(tmp_path, mirror_worker_offset_map=True, mirror_worker_sync_groups=[],
                     mirror_worker_sync_group_offsets=False, mirror_worker_partitioning="producer")
    assert proc.returncode != 0
    assert "mirror_worker_partitioning is producer, which places records where the producer's partitioner chooses, " \
           "and mirror_worker_offset_map is true, which needs each record on its source partition: set " \
           "mirror_worker_partitioning to source (the default), or mirror_worker_offset_map to false." \
        in proc.stdout.replace("\\'", "'")


@pytest.mark.parametrize("offset_map, partitioning", [(False, "producer"), (True, "source")])
def test_producer_placement_without_the_map_or_the_map_with_source_placement_pass_that_check(tmp_path, offset_map,
                                                                                             partitioning):
    proc = preflight(tmp_path, mirror_worker_offset_map=offset_map, mirror_worker_sync_groups=[],
                     mirror_worker_sync_group_offsets=False, mirror_worker_partitioning=partitioning)
    # ok, so neither refused nor failing on an undefined (misspelt) variable; the later checks need more vars than
    # these, and ansible-core 2.16 fails them where newer versions do not
    assert re.search(r"TASK \[Check that the offset map has partitions to follow\] \**\nok: \[localhost\]",
                     proc.stdout), proc.stdout


def both_ways(topics_back: list[str]) -> dict:
    forward = {"name": "ab", "primary": "a", "secondary": "b", "topics": [{"name": "orders"}, {"name": "audit"}]}
    back = {"name": "ba", "primary": "b", "secondary": "a", "topics": [{"name": t} for t in topics_back],
            "workers": ["w2"]}
    return {"_mirror_worker_pairs": [forward], "mirroring_pairs": [forward, back], "mirror_worker_sync_groups": [],
            "mirror_worker_offset_map": False, "mirror_worker_exactly_once": False,
            "mirror_worker_sync_group_offsets": False, "mirror_worker_partitioning": "source"}


def test_a_pair_mirrored_back_on_the_same_topic_without_provenance_stops_naming_both_pairs_and_the_fix(tmp_path):
    proc = preflight(tmp_path, mirror_worker_provenance=False, **both_ways(["orders", "billing"]))
    assert proc.returncode != 0
    assert "Pair ab mirrors orders from a to b, and pair ba mirrors them back: every record would go round forever. " \
           "Set mirror_worker_provenance: true for the workers of both pairs (active-active; not yet on ['localhost', " \
           "'w2']), or mirror these topics one way only." in proc.stdout.replace("\\'", "'")


def test_provenance_on_one_side_only_stops_naming_the_other_sides_worker(tmp_path, monkeypatch):
    host_vars = tmp_path / "host_vars"
    host_vars.mkdir()
    (host_vars / "localhost.yml").write_text("mirror_worker_provenance: true\n")
    monkeypatch.setenv("ANSIBLE_INVENTORY", "")  # the host_vars beside the play
    extra = both_ways(["orders"])
    proc = preflight(tmp_path, **extra)
    assert proc.returncode != 0
    assert "(active-active; not yet on ['w2'])" in proc.stdout.replace("\\'", "'")


@pytest.mark.parametrize("provenance, back", [(True, ["orders"]), (False, ["billing"])],
                         ids=["with-provenance", "other-topics"])
def test_both_directions_pass_that_check_with_provenance_or_on_other_topics(tmp_path, provenance, back):
    proc = preflight(tmp_path, mirror_worker_provenance=provenance, **both_ways(back))
    assert "every record would go round forever" not in proc.stdout
    assert "Check that both clusters of the pair were read" in proc.stdout  # the next check ran


def test_a_reverse_pair_on_other_topics_is_not_blamed_for_the_loop_of_another(tmp_path):
    extra = both_ways(["orders"])
    extra["mirroring_pairs"].append({"name": "ba2", "primary": "b", "secondary": "a", "topics": [{"name": "billing"}],
                                     "workers": ["w3"]})
    proc = preflight(tmp_path, mirror_worker_provenance=False, **extra)
    out = proc.stdout.replace("\\'", "'")
    assert "and pair ba mirrors them back" in out and "not yet on ['localhost', 'w2'])" in out
