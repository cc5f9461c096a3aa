"""python -m mirrorfaults [--scenarios a,b] [--tools kafka-mirror,mm2,mm1]: runs, then writes the report."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from kafka_lab.runtime import locate
from mirrorbench.clusters import BenchError, reachable
from mirrorbench.machine import facts
from mirrorbench.tools import TOOLS
from mirrorfaults import controls, report
from mirrorfaults.node import NodeMirror
from mirrorfaults.runner import Local, run
from mirrorfaults.scenarios import ALL, BY_NAME

ROOT = Path(__file__).resolve().parents[2]


def commit() -> str:
    """The code measured: HEAD, marked when the tree held uncommitted changes to the worker or the suite."""
    import subprocess

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "worker", "bench/mirrorfaults"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    return (head.stdout.strip() or "unknown") + ("+changes" if dirty else "")


def lab_bootstraps(lab: controls.Lab):
    from mirrorbench.clusters import Lab

    return Lab(lab.primary.bootstrap, lab.secondary.bootstrap, lab.home)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m mirrorfaults", description=__doc__)
    p.add_argument("--scenarios", default=",".join(s.name for s in ALL), help="comma-separated scenario names")
    p.add_argument("--tools", default="kafka-mirror,mm2,mm1,node",
                   help="comma-separated: kafka-mirror, mm2, mm1, node (kafka-mirror as the node's systemd service)")
    p.add_argument("--rate", type=float, default=2000.0, help="records/s of the steady stream")
    p.add_argument("--workdir", type=Path, default=Path("/var/tmp/mirrorfaults"))
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "RELIABILITY.md")
    p.add_argument("--merge", action="store_true",
                   help="keep the other rows of bench/results/faults.json (runs of earlier invocations); a "
                        "scenario and tool run again replaces its row")
    p.add_argument("--report-only", action="store_true", help="render the report from bench/results/faults.json")
    args = p.parse_args(argv)
    unknown = [s for s in args.scenarios.split(",") if s not in BY_NAME]
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    command = ("PYTHONPATH=bench .venv/bin/python -m mirrorfaults " +
               shlex.join(argv if argv is not None else sys.argv[1:])).strip()
    raw = ROOT / "bench" / "results" / "faults.json"
    rows = json.loads(raw.read_text()) if (args.merge or args.report_only) and raw.exists() else []
    failed = []
    try:
        lab = controls.lab()
        for bootstrap in (lab.primary.bootstrap, lab.secondary.bootstrap):
            reachable(bootstrap)
        runtime = locate()
        invocation = args.workdir / time.strftime("%Y%m%d-%H%M%S")
        revision = commit()
        f = facts(lab_bootstraps(lab))
        machine = (f"{f['cores']} cores ({f['cpu']}), {f['memory_gib']} GiB, shared by the lab's 6 brokers, the tools "
                   f"and the suite; Kafka {f['kafka']}, {f['java']}, librdkafka {f['librdkafka']}")
        if args.report_only:
            _save(rows, raw, args.report, machine, args.rate)
            return
        for name in args.scenarios.split(","):
            scenario = BY_NAME[name]
            for key in args.tools.split(","):
                tool = NodeMirror() if key == "node" else Local(TOOLS[key])
                if not scenario.applies(tool.name):
                    continue
                print(f"{name} / {tool.name} ...", flush=True)
                try:
                    result = run(lab, tool, scenario, invocation / f"{name}-{key}", args.rate, runtime)
                except Exception as exc:  # one broken run must not cost the others their rows
                    failed.append(f"{name} / {tool.name}: {exc}")
                    print(f"  the run failed: {exc}", flush=True)
                    continue
                print(f"  produced {result.produced:,} missing {result.missing:,} duplicates "
                      f"{result.duplicates:,} order {result.order_violations:,} max lag {result.max_lag:,} "
                      f"recovery {result.recover_s} s restarts {result.restarts} exits {result.exit_codes}",
                      flush=True)
                row = {**result.to_json(), "command": command, "date": time.strftime("%Y-%m-%d"),
                       "commit": revision}
                rows = [r for r in rows if (r["scenario"], r["tool"]) != (row["scenario"], row["tool"])] + [row]
                _save(rows, raw, args.report, machine, args.rate)  # after every run: a long suite keeps its rows
    except BenchError as exc:
        sys.exit(f"mirrorfaults: {exc}")
    if failed:
        sys.exit("mirrorfaults: runs that failed:\n" + "\n".join(failed))
    print(f"wrote {args.report} and {raw}")


def _save(rows: list[dict], raw: Path, report_path: Path, machine: str, rate: float) -> None:
    order = {s.name: i for i, s in enumerate(ALL)}
    rows.sort(key=lambda r: (order.get(r["scenario"], 99), r["tool"]))
    raw.write_text(json.dumps(rows, indent=1))
    report_path.write_text(report.markdown(rows, machine, rate))
