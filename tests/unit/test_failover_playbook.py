"""playbooks/failover.yml (ambari_kafka.mirroring.failover) stops at its first task, before it reads or changes
anything, when failover_groups is missing or names what the inventory does not have, saying what to give.

Only the checks run here (the example fleet's clusters are never reached); translating and committing on a lab's
pair is tests/integration's."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FLEET = ROOT / "inventory" / "example-fleet"


def playbook(*args: str, playbook: str = "playbooks/failover.yml") -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(FLEET), playbook, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("extra,message", [
    ({}, "failover_groups (required) is a list of {pair, group}, the pairs and consumer groups to fail over"),
    ({"failover_groups": "orders"}, 'Given: "orders"'),
    ({"failover_groups": [{"pair": "orders", "group": "g"}, "billing"]}, "a list of {pair, group}"),
    ({"failover_groups": [{"pair": "inventory", "group": "g"}]},
     'failover_groups[0] is {"pair": "inventory", "group": "g"}: each entry needs pair, a pair of mirroring_pairs '
     "whose first worker is a host of mirror_workers (orders, payments, clicks)"),
    ({"failover_groups": [{"pair": "orders"}]}, "and group, the consumer group's name"),
    ({"failover_groups": [{"pair": "orders", "group": "g"}, {"pair": "orders", "group": "g"}]},
     "each pair and group once"),
    ({"failover_groups": [{"pair": "orders", "group": "g"}], "failover_group_offsets": "both"},
     'failover_group_offsets is "both": map'),
])
def test_wrong_failover_groups_stop_the_run_saying_what_to_give(extra, message):
    proc = playbook("-e", json.dumps(extra))
    assert proc.returncode != 0
    # ansible-core 2.16 prints a failed assert's msg as a JSON string (quotes escaped), 2.19 as text
    assert message in (proc.stdout + proc.stderr).replace('\\"', '"')
    assert "kafka_group_failover" not in proc.stdout and "Read the brokers" not in proc.stdout


ORDERS = {"failover_groups": [{"pair": "orders", "group": "g"}]}
PAIRS = [{"name": "orders", "primary": "orders-weu", "secondary": "orders-nue", "workers": ["orders-neu-mirror0"]}]


def test_a_worker_outside_the_run_with_failover_stop_mirror_stops_it_before_anything_is_read():
    """Fail closed: the commit play cannot know a worker it never reached had its mirror running."""
    proc = playbook("-e", json.dumps({**ORDERS, "failover_stop_mirror": True}), "--limit", "orders-weu,orders-neu")
    assert proc.returncode != 0
    assert ("failover_stop_mirror: pair orders's worker(s) orders-neu-mirror0 are not hosts of mirror_workers in "
            "this run") in (proc.stdout + proc.stderr).replace('\\"', '"')
    assert "Read the brokers" not in proc.stdout


@pytest.mark.parametrize("args,message", [
    (("--limit", "orders-weu,payments-wus"),
     'Pair orders\'s secondary "orders-neu" is outside this run (--limit): its groups would not be committed. Drop '
     "--limit, or include orders-neu in it"),
    (("--limit", "mirror_workers"),  # the translating hosts only: the commit play would have no host
     'Pair orders\'s secondary "orders-neu" is outside this run (--limit)'),
    (("-e", json.dumps({"mirroring_pairs": PAIRS})),
     'Pair orders\'s secondary "orders-nue" is not a host of ambari_clusters: its groups would not be committed'),
])
def test_a_secondary_outside_the_run_stops_it_before_anything_is_read(args, message):
    proc = playbook("-e", json.dumps(ORDERS), *args)
    assert proc.returncode != 0
    assert message in (proc.stdout + proc.stderr).replace('\\"', '"')  # 2.16 escapes quotes in msg
    assert "Read the brokers" not in proc.stdout


@pytest.mark.parametrize("entry", ["playbooks/failover.yml", "failover.yml", "ambari_kafka.mirroring.failover"])
def test_the_playbook_is_reachable_by_path_root_wrapper_and_name(entry):
    proc = playbook("--syntax-check", playbook=entry)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_commit_passes_the_playbook_options_to_the_module():
    import yaml

    tasks = [t for play in yaml.safe_load((ROOT / "playbooks" / "failover.yml").read_text()) for t in play["tasks"]]
    args = next(t["ambari_kafka.mirroring.kafka_group_failover"] for t in tasks
                if "ambari_kafka.mirroring.kafka_group_failover" in t)
    assert args["allow_rewind"] == "{{ failover_allow_rewind | default(false) }}"
    assert args["allow_incomplete"] == "{{ failover_allow_incomplete | default(false) }}"


@pytest.mark.parametrize("pairs, message", [
    ([{**PAIRS[0], "secondary": "orders-neu", "topic": [{"name": "orders"}]}],
     'mirroring_pairs[0] (orders) has unknown keys "topic" (did you mean "topics"?)'),
    (PAIRS, "mirroring_pairs[0] (orders): secondary orders-nue is not a host of ambari_clusters"),
])
def test_wrong_mirroring_pairs_stop_setup_before_anything_is_read(pairs, message):
    """The example fleet's clusters do not exist: any task past the check would fail reaching them."""
    proc = playbook("-e", json.dumps({"mirroring_pairs": pairs}), playbook="playbooks/setup_mirroring.yml")
    assert proc.returncode != 0
    out = (proc.stdout + proc.stderr).replace('\\"', '"')
    assert message in out and "Traceback" not in out
    assert "Make every cluster's brokers reachable" not in out


def test_the_report_shows_per_partition_the_primary_offset_the_change_and_the_lag(tmp_path):
    """The issue's check mode: each partition's source offset, translated offset and lag. The report task's own
    template, rendered by ansible-playbook with a module result of kafka_group_failover's documented shape."""
    import yaml

    plays = yaml.safe_load((ROOT / "playbooks" / "failover.yml").read_text())
    report = next(t for play in plays for t in play["tasks"] if t.get("name") == "Report each group")
    result = {"item": {"pair": "orders", "group": "g"}, "not_set": [], "partitions": [
        {"topic": "orders", "partition": 0, "before": None, "after": 19501, "lag": 20497, "status": "exact",
         "source_offset": 19520},
        {"topic": "orders", "partition": 1, "before": 7, "after": 7, "lag": 0, "status": "", "source_offset": None}]}
    task = {**report, "loop": [result]}
    task["vars"] = {**report["vars"], "_failover_translated": {"rc": 0}, "_failover_worker": "w0"}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]
    (tmp_path / "report.yml").write_text(yaml.safe_dump(play))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check",
                           str(tmp_path / "report.yml")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "group g (pair orders) on localhost: would commit 1 of 2 partitions" in proc.stdout
    assert "orders:0: none -> 19501 (primary offset 19520, lag 20497, exact)" in proc.stdout
    assert "orders:1: 7 -> 7 (lag 0)" in proc.stdout


CLOSED_PORT = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh",  # unreachable, at once
               "ansible_ssh_common_args": "-o ConnectTimeout=5 -o BatchMode=yes -o StrictHostKeyChecking=no "
                                          "-o UserKnownHostsFile=/dev/null"}


def commit_plays(tmp_path: Path, workers: dict) -> str:
    """The translating and committing plays of failover.yml as they are, for pair orders (secondary `sec`, local)
    with these worker hosts, in order; their output, the run failing."""
    import yaml

    plays = yaml.safe_load((ROOT / "playbooks" / "failover.yml").read_text())
    (tmp_path / "plays.yml").write_text(yaml.safe_dump(plays[1:]))
    inventory = {"all": {
        "vars": {"mirroring_pairs": [{"name": "orders", "primary": "pri", "secondary": "sec",
                                      "workers": list(workers)}],
                 "failover_groups": [{"pair": "orders", "group": "g"}]},
        "children": {
            "mirror_workers": {"hosts": workers},
            "ambari_clusters": {"hosts": {"sec": {"ansible_connection": "local",
                                                  "ansible_python_interpreter": sys.executable}}}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"),
                           str(tmp_path / "plays.yml")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Not failed over on sec: g; the report above says why." in out, out
    return out


def test_an_unreachable_worker_is_reported_and_does_not_end_the_run_before_the_report(tmp_path):
    """The pair's only worker on a closed port of the loopback: its group is reported as not translated, and the
    run fails for it at its last task."""
    out = commit_plays(tmp_path, {"w0": CLOSED_PORT})
    assert "UNREACHABLE" in out  # the fault happened
    assert "group g (pair orders): not translated, its worker w0 could not be reached: " in out, out
    assert "port 1: Connection refused; nothing committed" in out, out


def test_a_mirror_that_could_not_be_stopped_leaves_its_pairs_groups_uncommitted_and_fails_the_run(tmp_path):
    """failover_stop_mirror with one of the pair's two workers unreachable: the group is translated on the first,
    not committed, reported naming the worker, and the run fails (review of session 9: it used to be committed and
    the run passed)."""
    fake = tmp_path / "home" / "venv" / "bin" / "kafka-mirror"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho '{\"partitions\": [{\"topic\": \"t\", \"partition\": 0, \"source_offset\": 5, "
                    "\"target_offset\": 5, \"status\": \"exact\", \"reread_at_most\": 0, \"reason\": \"\"}]}'\n")
    fake.chmod(0o755)
    out = commit_plays(tmp_path, {
        # the first worker translates; its mirror is left running here (no systemd in this test)
        "w0": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
               "mirror_worker_home": str(tmp_path / "home"), "failover_stop_mirror": False},
        "w1": {**CLOSED_PORT, "failover_stop_mirror": True}})
    assert "group g (pair orders): not committed, failover_stop_mirror could not stop the mirror on w1 (" in out, out
