"""`python -m mirrorbench`: the side-by-side run, its JSON, bench/RESULTS.md and the chart.

Order: preload once; throughput rounds with the tools alternating per workload and parallelism, each round starting
one tool later (A B C, B C A, C A B, ...); the ceilings in each round; then latency at half the slowest tool's
100-byte rate, alternating the same way.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from kafka_lab.runtime import locate
from mirrorbench import clusters, machine, report
from mirrorbench.ceiling import ceilings
from mirrorbench.clusters import BenchError
from mirrorbench.runs import latency, throughput
from mirrorbench.tools import TOOLS, KafkaMirror, OverSaslSsl
from mirrorbench.workloads import FULL, ID, QUICK

HERE = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def baseline(source: Path) -> KafkaMirror:
    """kafka-mirror from another checkout's worker/src, named by its commit (and 'modified' when its tree is)."""
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):  # no git here: the tool is named without its commit
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""
    rev = git("rev-parse", "--short", "HEAD") or "?"
    dirty = " modified" if git("status", "--porcelain", "--", ".") else ""
    return KafkaMirror(f"kafka-mirror at {rev}{dirty}", source=source.resolve())


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m mirrorbench", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="1,000,000 100-byte records, parallelism 1, kafka-mirror and MirrorMaker 2 (defaults and tuned), 2 "
                        "rounds; prints the ratios")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tools", default="kafka-mirror,mm2,mm2-tuned,mm1,mm1-tuned",
                   help="comma-separated, of: " + ",".join(TOOLS))
    p.add_argument("--workloads", default=",".join(w.topic for w in FULL), help="comma-separated topic names")
    p.add_argument("--parallelism", default="1,4")
    p.add_argument("--latency-seconds", type=float, default=30.0)
    p.add_argument("--latency-rates", default="half,10000",
                   help="records/s of the steady stream; 'half': half the slowest tool's median 100-byte rate at "
                        "parallelism 1 (the goal's rate); a lower one shows each tool below saturation")
    p.add_argument("--latency-parallelism", type=int, default=1, help="streams (tasks, threads) of each tool")
    p.add_argument("--latency-value-size", type=int, default=100, help="bytes of each record's value")
    p.add_argument("--only", choices=("ceiling", "latency"),
                   help="keep the other runs of --out/results.json and measure this part again")
    p.add_argument("--secure", action="store_true",
                   help="each tool also over SASL_SSL (TLS and SCRAM-SHA-512 on both clusters), alternating with its "
                        "PLAINTEXT runs: needs the secure lab (KAFKA_LAB_HOME=... kafka-lab up --secure)")
    p.add_argument("--baseline", type=Path, metavar="SRC",
                   help="another checkout's worker/src (e.g. a git worktree at an earlier commit): kafka-mirror from "
                        "it runs as one more tool, 'kafka-mirror at REV', beside today's, for an A/B of a code change")
    p.add_argument("--no-latency", action="store_true")
    p.add_argument("--no-ceiling", action="store_true")
    p.add_argument("--report-only", action="store_true",
                   help="write bench/RESULTS.md and the chart again from --out/results.json, measuring nothing")
    p.add_argument("--out", type=Path, default=None,
                   help="results directory (default bench/results, and then bench/RESULTS.md; else RESULTS.md goes "
                        "there too; --quick: the lab home's bench/quick)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.tools, args.workloads, args.parallelism = 2, "kafka-mirror,mm2,mm2-tuned", QUICK.topic, "1"
        args.no_latency = args.no_ceiling = True
    if args.latency_parallelism < 1:
        p.error("--latency-parallelism: at least 1")
    if args.latency_value_size < ID.size:
        p.error(f"--latency-value-size: at least {ID.size} (the record's identity)")
    if args.baseline is not None and not (args.baseline / "kafka_mirror" / "__init__.py").is_file():
        p.error(f"--baseline {args.baseline}: no kafka_mirror package there (give a checkout's worker/src)")
    unknown = set(args.tools.split(",")) - TOOLS.keys()
    if unknown:
        p.error(f"unknown tool(s) {', '.join(sorted(unknown))}: choose from {', '.join(TOOLS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    try:
        run(args, argv)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        sys.exit(1)


def _earlier(out: Path, flag: str) -> dict:
    """The runs an earlier measurement left in `out`, which `flag` builds on."""
    path = out / "results.json"
    if not path.is_file():
        raise BenchError(f"{flag} builds on the runs in {path}, and there is none: measure without {flag} first, "
                         f"or name the directory that holds them with --out")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise BenchError(f"{flag} builds on the runs in {path}, which is not a results file ({exc}): measure without "
                         f"{flag} again") from None


def run(args: argparse.Namespace, argv: list[str]) -> None:
    if args.report_only:
        out = args.out or HERE / "results"
        report.write(_earlier(out, "--report-only"), out, _results_md(args, out))
        log(f"wrote {_results_md(args, out)} from {out / 'results.json'}")
        return
    lab = clusters.lab()
    out = args.out or (lab.home / "bench" / "quick" if args.quick else HERE / "results")
    earlier = _earlier(out, "--only") if args.only else None  # before the lab is asked anything
    clusters.reachable(lab.primary)
    clusters.reachable(lab.secondary)
    runtime = locate()
    workloads = [w for w in (*FULL, QUICK) if w.topic in args.workloads.split(",")]
    tools = [TOOLS[t] for t in args.tools.split(",")]
    if args.baseline is not None:
        tools.append(baseline(args.baseline))
    if args.secure:
        if lab.secure is None:
            raise BenchError(f"--secure needs a secure lab, and the one in {lab.home} is not: KAFKA_LAB_HOME="
                             f"{lab.home}-secure kafka-lab up --secure, then the network step with -i inventory/lab-secure")
        tools = [variant for t in tools for variant in (t, OverSaslSsl(t, lab.secure))]
    parallelisms = [int(p) for p in args.parallelism.split(",")]
    out.mkdir(parents=True, exist_ok=True)
    work = lab.home / "bench" / "runs" / datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    started = time.monotonic()
    command = "python -m mirrorbench " + shlex.join(argv)
    if earlier is not None:
        results = earlier
        results["commands"] = [*results.get("commands", [results.pop("command", None)]), command]
        if args.only == "ceiling":
            results["ceiling"] = [c.to_json() for rnd in range(1, args.rounds + 1) for w in workloads
                                  for c in ceilings(lab, runtime, w, rnd)]
            args.no_latency = True
        else:
            results["latency"], results["latency_pooled"] = [], {}
    else:
        if args.rounds % len(tools):
            log(f"{args.rounds} rounds of {len(tools)} tools: the order rotates, but not every tool takes every place "
                "equally often (rounds a multiple of the tools would)")
        for w in workloads:
            clusters.preload(lab.primary, w, log)
        results = {"commands": [command], "machine": machine.facts(lab),
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "throughput": [], "ceiling": [], "latency": [], "workloads": [w.__dict__ for w in workloads]}
        throughputs(args, lab, runtime, workloads, tools, parallelisms, work, out, results)
        results["wall_s"] = round(time.monotonic() - started, 1)
    if not args.no_latency:
        started = time.monotonic()
        latencies(args, lab, runtime, tools, work, results)
        results["latency_wall_s"] = round(time.monotonic() - started, 1)
    _save(out, results)
    if args.quick:
        print(report.quick_line(results["throughput"]))
        return
    report.write(results, out, _results_md(args, out))
    log(f"wrote {_results_md(args, out)} and {out}")


def in_turn(tools: list, rnd: int) -> list:
    """Round `rnd`'s order: each tool takes each place once every len(tools) rounds, so that a lab drifting through
    a round favours no tool when the rounds are a multiple of the tools (else the log says so). With one fixed order,
    MirrorMaker 1, last in every round, had the lowest p50 at 1,000 records/s in two runs (bench/results/latency-ab,
    fetch-ab; issue 13, item 2)."""
    k = (rnd - 1) % len(tools)
    return tools[k:] + tools[:k]


def throughputs(args, lab, runtime, workloads, tools, parallelisms, work: Path, out: Path, results: dict) -> None:
    n = 0
    for rnd in range(1, args.rounds + 1):
        for w in workloads:
            for par in parallelisms:
                for tool in in_turn(tools, rnd):
                    n += 1
                    r = throughput(lab, runtime, tool, w, par, rnd, work / f"t{n:03d}")
                    results["throughput"].append(r.to_json())
                    log(f"round {rnd} {w.name} x{par} {tool.name}: {r.records_per_s:,.0f} rec/s "
                        f"{r.mb_per_s:.1f} MB/s, {r.cpu_s_per_gb:.0f} CPU s/GB, peak {r.peak_rss_mib:.0f} MiB, "
                        f"start-up {r.startup_s:.1f}s; missing {r.missing}, duplicates {r.duplicates}")
                    if not r.complete:
                        raise BenchError(f"{tool.name} lost records ({r.missing} missing, {r.malformed} malformed): "
                                         f"this run cannot be reported; logs in {work / f't{n:03d}'}")
            if not args.no_ceiling:
                for c in ceilings(lab, runtime, w, rnd):
                    results["ceiling"].append(c.to_json())
                    log(f"round {rnd} ceiling {w.name} {c.client} {c.direction}: {c.records_per_s:,.0f} rec/s")
        _save(out, results)


WARMUP_RUN_S = 20.0


def latencies(args, lab, runtime, tools, work: Path, results: dict) -> None:
    """Each rate in turn; within a rate the tools alternate round by round, as for throughput."""
    half = report.latency_rate(results["throughput"])
    results["latency_half_rate"] = half
    rates = [half if r == "half" else float(r) for r in args.latency_rates.split(",")]
    pooled: dict[str, dict] = {}
    results["latency_setup"] = {"parallelism": args.latency_parallelism, "value_size": args.latency_value_size}
    # One unmeasured run first: on a lab just started, the first tool's run met brokers still warming up (their JIT,
    # caches): kafka-mirror's p50 at 1,000 records/s was 463 ms then and 175-212 ms minutes later, unchanged.
    latency(lab, runtime, tools[0], rates[0], 0, work / "l-warmup", seconds=WARMUP_RUN_S,
            value_size=args.latency_value_size, parallelism=args.latency_parallelism)
    log(f"latency: a warm-up run of {tools[0].name} at {rates[0]:,.0f} rec/s, not counted")
    n = 0
    for rate in rates:
        all_ms: dict[str, list[int]] = {}
        for rnd in range(1, args.rounds + 1):
            for tool in in_turn(tools, rnd):
                n += 1
                lr = latency(lab, runtime, tool, rate, rnd, work / f"l{n:03d}", seconds=args.latency_seconds,
                             value_size=args.latency_value_size, parallelism=args.latency_parallelism)
                pct = report.percentiles(lr.latencies_ms)
                results["latency"].append({**lr.to_json(), **pct})
                all_ms.setdefault(tool.name, []).extend(lr.latencies_ms)
                log(f"round {rnd} latency {tool.name} at {rate:,.0f} rec/s: p50 {pct['p50']} ms, p99 {pct['p99']} "
                    f"ms, p999 {pct['p999']} ms ({pct['samples']:,} records)")
        pooled[f"{rate:.0f}"] = {t: report.percentiles(ms) for t, ms in all_ms.items()}
    results["latency_pooled"] = pooled


def _results_md(args: argparse.Namespace, out: Path) -> Path:
    """bench/RESULTS.md for the default results directory; next to the results of any other --out."""
    return HERE / "RESULTS.md" if args.out is None else out / "RESULTS.md"


def _save(out: Path, results: dict) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
