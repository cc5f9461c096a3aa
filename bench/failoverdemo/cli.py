"""python -m failoverdemo: a consumer group failed over mid-stream on the lab, with kafka-mirror's failover.yml and
with MirrorMaker 2's checkpoints, in the same run; writes its section of docs/FAILOVER.md.

Both mirrors copy the same topic of the primary (kafka-mirror on the lab's worker node as the mirror_worker role
deploys it, with the offset map and the group in sync_groups; MM2 near the secondary, into `primary.<topic>`). A
steady stream is written on the primary; the application's group reads it there at a lower steady rate, committing
what it processed every second. Mid-stream the application stops (as it would with its primary gone), both mirrors
are given the time to copy its last commits, failover.yml commits kafka-mirror's translation on the secondary and
MM2 its own (sync.group.offsets), and the same group resumes on the secondary, reading both copies, while the
stream and both mirrors go on. Each record it reads is ticked off against what it had read on the primary.
Round "kills": the same with both mirrors killed -9 three times while the group reads on the primary.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_lab.runtime import locate
from mirrorbench.clusters import BenchError, delete_topics, partition_counts, read_back, reachable
from mirrorbench.tools import Job
from mirrorfaults import controls
from mirrorfaults.cli import commit as revision
from mirrorfaults.runner import Supervised
from mirrorfaults.stream import PARTITIONS, SteadyStream, identity
from failoverdemo import app, mm2, report
from failoverdemo.judge import judge

ROOT = Path(__file__).resolve().parents[2]
RATE = 2000.0  # records/s written on the primary
APP_RATE = 1500.0  # records/s the group processes: it lags, so its position lies inside what is mirrored
ON_PRIMARY_S = 40.0
ON_SECONDARY_S = 20.0  # the group reads on the secondary while the stream and both mirrors go on
KILL_EVERY_S = 10.0
MAP_TOPIC = "kafka-mirror.offset-map"
SYNC_WAIT_S = 180.0
SETTLED_S = 2.5 * mm2.INTERVAL_S  # unchanged this long: MM2 has synced what it will
DRAIN_WAIT_S = 300.0
UNIT = "kafka-mirror"  # the mirror_worker role's service


@dataclass(frozen=True)
class Round:
    name: str
    kills: int


ROUNDS = [Round("steady", 0), Round("kills", 3)]


def _ansible(playbook: str, *extra: str, log: Path) -> None:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(ROOT / "inventory/lab"), playbook,
            *extra]
    with open(log, "ab") as out:
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=1800)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[3:])} failed ({proc.returncode}); its output: {log}")


def _setup(workdir: Path, topics: list[str], groups: list[str]) -> Path:
    """The lab's pair, mirroring this run's topics with the offset map and the groups synced (setup_mirroring)."""
    extra = {"mirroring_pairs": [{"name": "lab", "primary": "lab-primary", "secondary": "lab-secondary",
                                  "topics": [{"name": t, "partitions": PARTITIONS, "replication_factor": 2}
                                             for t in topics],
                                  "workers": ["lab-node"]}],
             "mirror_worker_offset_map": True, "mirror_worker_sync_groups": groups,
             # the topics are new: their first records must not wait for the worker's first assignment
             "mirror_worker_consumer_properties": {"auto.offset.reset": "earliest"}}
    path = workdir / "vars.json"
    path.write_text(json.dumps(extra))
    _ansible("setup-mirroring.yml", "-e", f"@{path}", log=workdir / "ansible.log")
    return path


def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "failover-demo-ends"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(PARTITIONS)}
    finally:
        consumer.close()


def _wait(what: str, check, timeout: float, sleep: float = 2.0) -> bool:
    """Bounded: False (and a note by the caller) when `check` did not hold in time."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            print(f"  gave up waiting for {what} after {timeout:.0f} s", flush=True)
            return False
        time.sleep(sleep)
    return True


def _map_groups(secondary: str, group: str, topic: str) -> dict[int, int]:
    """The group's offsets as kafka-mirror's offset map holds them on the secondary, newest per partition."""
    consumer = Consumer({"bootstrap.servers": secondary, "group.id": "failover-demo-map",
                         "enable.partition.eof": True, "enable.auto.commit": False})
    consumer.assign([TopicPartition(MAP_TOPIC, 0, -2)])
    got: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = consumer.poll(1.0)
            if m is None:
                continue
            if m.error() is not None:
                break  # end of the map's partition
            key = json.loads(m.key())
            if key[0] == "group" and key[2:4] == [group, topic] and m.value():
                got[key[4]] = json.loads(m.value())["offset"]
    finally:
        consumer.close()
    return got


def _ids(records) -> list[tuple[int, int]]:
    """The stream's records only: the setup run's canary lies in the same topics."""
    return [r for r in (identity(m.key(), m.value()) for m in records) if r is not None]


def run_round(lab: controls.Lab, rnd: Round, topic: str, group: str, mirror: Supervised, workdir: Path,
              vars_file: Path) -> dict:
    primary, secondary = lab.primary.bootstrap, lab.secondary.bootstrap
    remote = mm2.remote_topic(topic)
    notes: list[str] = []
    stream = SteadyStream(primary, topic, RATE)
    on_primary = app.Reader(primary, group, [topic], APP_RATE, workdir / f"{rnd.name}-primary.json")
    started = time.monotonic()
    for _ in range(rnd.kills):
        time.sleep(KILL_EVERY_S)
        controls.node_ssh(lab, "systemctl", "kill", "-s", "KILL", UNIT)
        mirror.kill9()
    time.sleep(max(0.0, ON_PRIMARY_S - (time.monotonic() - started)))
    processed_reads = on_primary.stop()  # the application stops: its last commit is its position
    processed = {(p, seq) for _, p, seq in processed_reads}
    position = app.committed(primary, group, topic, PARTITIONS)
    print(f"  {rnd.name}: the group processed {len(processed):,} records on the primary and stopped", flush=True)

    if not _wait("kafka-mirror to copy the group's last offsets into its map",
                 lambda: _map_groups(secondary, group, topic) == position, SYNC_WAIT_S):
        notes.append("kafka-mirror had not copied the group's last offsets within "
                     f"{SYNC_WAIT_S:.0f} s; failed over from what it had")
    last: list = [None, time.monotonic()]

    def settled() -> bool:
        now = app.committed(secondary, group, remote, PARTITIONS)
        if now != last[0]:
            last[:] = [now, time.monotonic()]
        return len(now) == PARTITIONS and time.monotonic() - last[1] >= SETTLED_S

    if not _wait("MirrorMaker 2 to sync the group's offsets", settled, SYNC_WAIT_S):
        notes.append(f"MirrorMaker 2's offsets for the group (on {len(last[0] or {})} of {PARTITIONS} partitions) "
                     f"were still changing after {SYNC_WAIT_S:.0f} s; failed over from what it had then")

    t0 = time.monotonic()
    _ansible("failover.yml", "-e", f"@{vars_file}", "-e",
             json.dumps({"failover_groups": [{"pair": "lab", "group": group}]}), log=workdir / "ansible.log")
    failover_s = time.monotonic() - t0
    committed = {"kafka-mirror": app.committed(secondary, group, topic, PARTITIONS),
                 "MirrorMaker 2": app.committed(secondary, group, remote, PARTITIONS)}

    on_secondary = app.Reader(secondary, group, [topic, remote], 0, workdir / f"{rnd.name}-secondary.json")
    time.sleep(ON_SECONDARY_S)
    produced = stream.stop()
    print(f"  {rnd.name}: failed over in {failover_s:.1f} s; {produced:,} records produced in all", flush=True)

    admin = AdminClient({"bootstrap.servers": primary})
    source_count = sum(partition_counts(admin, topic) or [0])
    target_admin = AdminClient({"bootstrap.servers": secondary})
    for t in (topic, remote):
        if not _wait(f"{t} to hold every record of the primary",
                     lambda t=t: sum(partition_counts(target_admin, t) or [0]) >= source_count, DRAIN_WAIT_S):
            notes.append(f"{t} did not hold as many records as the primary within {DRAIN_WAIT_S:.0f} s: what it "
                         "lacked at the end is counted as not mirrored")
    ends = {t: _ends(secondary, t) for t in (topic, remote)}
    if not _wait("the group to read both copies to their end",
                 lambda: all(app.committed(secondary, group, t, PARTITIONS) == ends[t] for t in ends), DRAIN_WAIT_S):
        notes.append(f"the group had not read both copies to their end within {DRAIN_WAIT_S:.0f} s: what it did "
                     "not read counts as skipped")
    reads = on_secondary.stop()

    source = set(_ids(read_back(primary, topic)))
    rows = []
    for tool, target_topic in (("kafka-mirror", topic), ("MirrorMaker 2", remote)):
        verdict = judge(source, processed, [(p, s) for t, p, s in reads if t == target_topic],
                        _ids(read_back(secondary, target_topic)))
        rows.append({"round": rnd.name, "kills": rnd.kills, "tool": tool, **verdict.to_json(),
                     "position": sum(position.values()), "committed_on_secondary": sum(committed[tool].values())})
        print(f"  {rnd.name} / {tool}: {verdict}", flush=True)
    return {"rows": rows, "notes": notes, "failover_s": round(failover_s, 1), "produced": produced}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m failoverdemo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", type=Path, default=Path("/var/tmp/failoverdemo"))
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "FAILOVER.md")
    p.add_argument("--rounds", default=",".join(r.name for r in ROUNDS))
    args = p.parse_args(argv)
    command = ("PYTHONPATH=bench .venv/bin/python -m failoverdemo " +
               shlex.join(argv if argv is not None else sys.argv[1:])).strip()
    rounds = [r for r in ROUNDS if r.name in args.rounds.split(",")]
    try:
        lab = controls.lab()
        for bootstrap in (lab.primary.bootstrap, lab.secondary.bootstrap):
            reachable(bootstrap)
        code = revision()  # before the run: the node runs the wheel built from it
        run_id = time.strftime("%m%d%H%M%S")
        workdir = args.workdir / run_id
        workdir.mkdir(parents=True)
        topics = {r.name: f"failover-{r.name}-{run_id}" for r in rounds}
        groups = {r.name: f"orders-{r.name}-{run_id}" for r in rounds}
        print(f"setup_mirroring for {', '.join(topics.values())} (log: {workdir / 'ansible.log'})", flush=True)
        vars_file = _setup(workdir, list(topics.values()), list(groups.values()))
        job = Job(workdir, "|".join(topics.values()), 2, run_id, lab.primary.bootstrap, lab.secondary.bootstrap)
        mm2_tool = mm2.tool("|".join(groups.values()))
        mirror = Supervised(mm2_tool.launch(job, locate()), workdir, lab.near_secondary, "mm2")
        results = {}
        try:
            for rnd in rounds:
                print(f"round {rnd.name} ...", flush=True)
                results[rnd.name] = run_round(lab, rnd, topics[rnd.name], groups[rnd.name], mirror, workdir,
                                              vars_file)
        finally:
            mirror.stop()
            delete_topics(AdminClient({"bootstrap.servers": lab.secondary.bootstrap}),
                          mm2_tool.internal_topics(run_id))
    except BenchError as exc:
        sys.exit(f"failoverdemo: {exc}")
    doc = {"command": command, "date": time.strftime("%Y-%m-%d"), "commit": code, "rounds": results,
           "rate": RATE, "app_rate": APP_RATE, "mm2_settings": mm2.SETTINGS}
    raw = ROOT / "bench" / "results" / "failover.json"
    raw.write_text(json.dumps(doc, indent=1))
    report.write(args.report, doc)
    print(f"wrote {args.report} and {raw}")
