"""Results to figures: medians and spreads per tool, the ratios, bench/RESULTS.md and its chart."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from mirrorbench.procstat import IDLE_S
from mirrorbench.stats import Spread, percentile

KM, MM2, MM1 = "kafka-mirror", "MirrorMaker 2", "MirrorMaker 1"
MM2_TUNED, MM1_TUNED = "MirrorMaker 2 tuned", "MirrorMaker 1 tuned"
ORDER = (KM, MM2, MM2_TUNED, MM1, MM1_TUNED)
SECURED = "%s (SASL_SSL)"  # tools.OverSaslSsl's name for a tool


def percentiles(latencies_ms: list[int]) -> dict[str, float]:
    s = sorted(latencies_ms)
    return {"p50": percentile(s, 50), "p99": percentile(s, 99), "p999": percentile(s, 99.9), "samples": len(s)}


def cells(throughput: list[dict]) -> dict[tuple[str, int], dict[str, list[dict]]]:
    """(workload, parallelism) -> tool -> its runs, complete ones only."""
    out: dict = defaultdict(lambda: defaultdict(list))
    for r in throughput:
        if r["complete"]:
            out[(r["workload"], r["parallelism"])][r["tool"]].append(r)
    return out


def summary(runs: list[dict]) -> dict[str, Spread]:
    return {k: Spread.of([r[k] for r in runs]) for k in ("records_per_s", "mb_per_s", "cpu_s_per_gb", "peak_rss_mib",
                                                          "startup_s")}


BREAKDOWN = (("fetched_age", "fetched age: record timestamp to the return of its fetch (steady producer, source "
                              "broker, fetch, waiting for the loop)"),
             ("after_fetch", "after the fetch: to the target's acknowledgement (hand-over, producer, target broker)"),
             ("replication", "replication latency: the two above, record by record"),
             ("handover", "hand-over of one pass's batch to the producer"),
             ("checkpoint", "checkpoint: the loop standing still (flush, and any commit it waits for)"),
             ("refresh", "topic refresh: the loop standing still to apply it (since 2026-12-05 its reads of both "
                         "clusters run beside the loop; before, the loop stood still for them too)"))


def breakdown_rows(spent: list[dict | None]) -> list[str]:
    """kafka-mirror's own account of a rate's runs (bench/mirrorbench/breakdown.py): sample-weighted means."""
    spent = [s for s in spent if s]
    if not spent:
        return []
    rows = ["", "Where kafka-mirror's time went at this rate (its /metrics over the measured window, all rounds): the "
                "newest record acknowledged, once per loop pass, split where its fetch returned; means, and the "
                "highest round's bucket holding the 99th percentile:", "",
            "| part | mean ms | p99 bucket ms | samples |", "|---|---|---|---|"]
    for key, title in BREAKDOWN:
        parts = [s[key] for s in spent if key in s]
        if not parts:
            continue
        weights = [p["samples"] for p in parts]
        mean = sum(p["mean_ms"] * w for p, w in zip(parts, weights)) / sum(weights)
        bounds = [p.get("p99_bucket_ms") for p in parts]
        bound = "> largest" if None in bounds else f"<= {max(bounds):,g}"
        rows.append(f"| {title} | {mean:,.1f} | {bound} | {sum(weights):,.0f} |")
    return rows


def same_round_rows(runs: list[dict], rate_key: str) -> list[str]:
    """kafka-mirror's p50 and p99 against each other tool's of the same round: the lab's latencies drift between
    rounds by as much as the tools differ, and a round's drift moves every tool of it."""
    def of(tool: str) -> dict[int, dict]:
        return {r["round"]: r for r in runs
                if r["tool"] == tool and f"{r['rate']:.0f}" == rate_key and "round" in r and "p50" in r}
    mine = of(KM)
    rows: list[str] = []
    for tool in tool_order({r["tool"] for r in runs} - {KM}):
        theirs = of(tool)
        common = sorted(set(mine) & set(theirs))
        if len(common) < 2:
            continue
        cells = []
        for q in ("p50", "p99"):
            pairs = [(mine[k][q], theirs[k][q]) for k in common]
            ratios = [a / b for a, b in pairs if b]
            ratio = f"{Spread.of(ratios).median:.2f}x" if ratios else "-"
            ties = sum(a == b for a, b in pairs)
            tied = f", {ties} tied" if ties else ""
            cells.append(f"{sum(a < b for a, b in pairs)} of {len(pairs)}{tied} | {ratio}")
        per_round = ", ".join(f"{mine[k]['p50']:,.0f}/{theirs[k]['p50']:,.0f}" for k in common)
        rows.append(f"| {tool} | {cells[0]} | {cells[1]} | {per_round} |")
    if not rows:
        return []
    return ["", "Round by round (each tool against kafka-mirror in the same round, the median of the rounds' ratios):",
            "", "| tool | rounds kafka-mirror's p50 lower | p50 kafka-mirror / tool | rounds kafka-mirror's p99 lower | "
            "p99 kafka-mirror / tool | p50 per round, kafka-mirror / tool ms |", "|---|---|---|---|---|---|", *rows]


def latency_rate(throughput: list[dict]) -> float:
    """Half the slowest tool's median 100-byte rate at parallelism 1 (the issue's steady rate)."""
    by_tool = cells(throughput).get(("100 B", 1))
    if not by_tool:
        raise ValueError("no 100-byte parallelism-1 runs to derive the latency rate from")
    return round(min(summary(runs)["records_per_s"].median for runs in by_tool.values()) / 2, -2)


def quick_line(throughput: list[dict]) -> str:
    by_tool = cells(throughput)[("100 B", 1)]
    km, mm2 = (summary(by_tool[t])["records_per_s"] for t in (KM, MM2))
    line = (f"kafka-mirror / MirrorMaker 2 throughput, 100-byte records, parallelism 1: {km.median / mm2.median:.2f}x "
            f"({km.median:,.0f} vs {mm2.median:,.0f} records/s, medians of {km.n} and {mm2.n} runs)")
    secured = [SECURED % KM, SECURED % MM2]
    if all(t in by_tool for t in secured):  # --secure: each tool over SASL_SSL too, in the same run
        skm, smm2 = (summary(by_tool[t])["records_per_s"] for t in secured)
        line += (f"\nover SASL_SSL: kafka-mirror / MirrorMaker 2 {skm.median / smm2.median:.2f}x ({skm.median:,.0f} vs "
                 f"{smm2.median:,.0f} records/s); SASL_SSL over PLAINTEXT: kafka-mirror {skm.median / km.median:.2f}x, "
                 f"MirrorMaker 2 {smm2.median / mm2.median:.2f}x")
    if MM2_TUNED in by_tool:  # the strongest peer on the last line (issue 13)
        tuned = summary(by_tool[MM2_TUNED])["records_per_s"]
        line += (f"\nkafka-mirror / MirrorMaker 2 tuned: {km.median / tuned.median:.2f}x ({km.median:,.0f} vs "
                 f"{tuned.median:,.0f} records/s)")
    return line


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def _fmt(s: Spread, digits: int = 0) -> str:
    return f"{s.median:,.{digits}f} ({s.low:,.{digits}f}-{s.high:,.{digits}f})"


def tool_order(names) -> list[str]:
    """The five tools first, then any variant (an A/B of one setting) in name order."""
    return [t for t in ORDER if t in names] + sorted(set(names) - set(ORDER))


def throughput_rows(throughput: list[dict]) -> list[dict]:
    rows = []
    for (workload, par), by_tool in cells(throughput).items():
        sums = {t: summary(runs) for t, runs in by_tool.items()}
        for tool in tool_order(sums):
            if tool in sums:
                rows.append({"workload": workload, "parallelism": par, "tool": tool, **sums[tool],
                             "runs": len(by_tool[tool]), "vs": sums})
    return rows


def best_peer_ratios(throughput: list[dict]) -> dict:
    """(workload, parallelism) -> (the fastest MirrorMaker configuration's name, kafka-mirror's rate over its rate,
    kafka-mirror's CPU per GB over its), for rows that have kafka-mirror and at least one MirrorMaker."""
    out = {}
    for key, by_tool in cells(throughput).items():
        peers = [t for t in (MM2, MM2_TUNED, MM1, MM1_TUNED) if t in by_tool]
        if KM not in by_tool or not peers:
            continue
        sums = {t: summary(by_tool[t]) for t in (KM, *peers)}
        fastest = max(peers, key=lambda t: sums[t]["records_per_s"].median)
        out[key] = (fastest, sums[KM]["records_per_s"].median / sums[fastest]["records_per_s"].median,
                    sums[KM]["cpu_s_per_gb"].median / sums[fastest]["cpu_s_per_gb"].median)
    return out


def cores_account(run: dict, cores: int) -> dict[str, float] | None:
    """Where the machine's CPU went in one throughput run, per GB mirrored: the tool, the lab's brokers, the rest
    (the benchmark's sampling, the kernel's network, the lab's API: the machine's busy time less the two)."""
    if run.get("brokers_cpu_s_per_gb") is None or not run.get("machine_busy") or run.get("idle_busy") is None:
        return None  # a run from before the brokers were sampled
    busy = run["machine_busy"] * cores / (run["mb_per_s"] / 1000)  # CPU s per GB, the whole machine
    return {"busy": run["machine_busy"], "idle": run["idle_busy"], "tool": run["cpu_s_per_gb"],
            "brokers": run["brokers_cpu_s_per_gb"], "rest": busy - run["cpu_s_per_gb"] - run["brokers_cpu_s_per_gb"]}


def accounts(throughput: list[dict], cores: int) -> dict[tuple[str, int, str], dict[str, float]]:
    """(workload, parallelism, tool) -> the median of each figure of cores_account over its runs."""
    out = {}
    for (workload, par), by_tool in cells(throughput).items():
        for tool, runs in by_tool.items():
            each = [a for r in runs if (a := cores_account(r, cores))]
            if each:
                out[(workload, par, tool)] = {k: Spread.of([a[k] for a in each]).median for k in each[0]}
    return out


def goals(results: dict) -> list[str]:
    """The issue's three goals, row by row, with the figures that decide them."""
    lines = []
    tput = [(k, v) for k, v in cells(results["throughput"]).items() if KM in v and MM2 in v]
    ratios = {k: summary(v[KM])["records_per_s"].median / summary(v[MM2])["records_per_s"].median for k, v in tput}
    cpu = {k: summary(v[KM])["cpu_s_per_gb"].median / summary(v[MM2])["cpu_s_per_gb"].median for k, v in tput}
    if ratios:
        worst = min(ratios, key=ratios.get)
        lines.append(f"- Throughput at least 1.5x MirrorMaker 2 at equal parallelism: "
                     f"**{'met' if ratios[worst] >= 1.5 else 'not met'}** (met in "
                     f"{sum(r >= 1.5 for r in ratios.values())} of {len(ratios)} rows); lowest {ratios[worst]:.2f}x ({worst[0]}, parallelism {worst[1]}).")
        worst = max(cpu, key=cpu.get)
        lines.append(f"- CPU per GB no more than MirrorMaker 2: **{'met' if cpu[worst] <= 1 else 'not met'}** (met "
                     f"in {sum(c <= 1 for c in cpu.values())} of {len(cpu)} rows); highest kafka-mirror/MirrorMaker 2 "
                     f"ratio {cpu[worst]:.2f} ({worst[0]}, parallelism {worst[1]}).")
    half = results.get("latency_half_rate")
    pooled = results.get("latency_pooled", {}).get(f"{half:.0f}", {}) if half else {}
    if KM in pooled and MM2 in pooled:
        km, mm2 = pooled[KM]["p99"], pooled[MM2]["p99"]
        lines.append(f"- p99 latency no higher than MirrorMaker 2 (at {half:,.0f} records/s, half the slowest tool's "
                     f"rate): **{'met' if km <= mm2 else 'not met'}** ({km:.0f} ms against {mm2:.0f} ms).")
    best = best_peer_ratios(results["throughput"])
    if best and not any(t in by_tool for by_tool in cells(results["throughput"]).values()
                        for t in (MM2_TUNED, MM1_TUNED)):
        lines.append("- Against the best MirrorMaker configuration of each row (issue 13): **not judged**, this run "
                     "has no tuned MirrorMaker (`--tools` without mm2-tuned, mm1-tuned; bench/README.md, tuned peers).")
    elif best:
        low = min(best, key=lambda k: best[k][1])
        high = max(best, key=lambda k: best[k][2])
        lines.append(f"- Against the best MirrorMaker configuration of each row (defaults or tuned, issue 13): "
                     f"throughput at least 1.5x **{'met' if best[low][1] >= 1.5 else 'not met'}** (met in "
                     f"{sum(b[1] >= 1.5 for b in best.values())} of {len(best)} rows), lowest {best[low][1]:.2f}x against "
                     f"{best[low][0]} ({low[0]}, parallelism {low[1]}); CPU per GB at most 0.5x "
                     f"**{'met' if best[high][2] <= 0.5 else 'not met'}** (met in {sum(b[2] <= 0.5 for b in best.values())} "
                     f"of {len(best)}), highest {best[high][2]:.2f}x against {best[high][0]} ({high[0]}, parallelism "
                     f"{high[1]}).")
    return lines + latency_goal(results)


def latency_goal(results: dict) -> list[str]:
    """Issue 13, item 2: kafka-mirror's p50, p99 and p999 lower than every MirrorMaker configuration's at every
    measured rate, on the pooled percentiles. Judged only where all four configurations ran at every rate, over two
    rounds or more; else said not judged, and why. A kafka-mirror variant named for one of its options
    ("kafka-mirror, --partitioning producer") is judged on its own line: a user can run it, so it says which
    configuration meets it. An A/B of code ("kafka-mirror at REV") and SASL_SSL runs are not judged."""
    pooled = results.get("latency_pooled") or {}
    setup = results.get("latency_setup") or {"parallelism": 1, "value_size": 100}
    rates = sorted(pooled, key=float)
    names = {t for by_tool in pooled.values() for t in by_tool}
    secured = SECURED % ""
    mine_all = [KM, *sorted(t for t in names if t.startswith(f"{KM}, ") and not t.endswith(secured))]
    peers = ORDER[1:]
    absent = [f"{t} at {float(r):,.0f}/s" for r in rates for t in peers if t not in pooled[r]]
    rounds = len({r["round"] for r in results.get("latency", []) if "round" in r})
    head = (f"- Latency lower than every MirrorMaker configuration ({', '.join(peers)}) at every rate "
            f"({setup['value_size']:,}-byte records, parallelism {setup['parallelism']}, {rounds} round(s) pooled; "
            f"issue 13):")
    lines = []
    for mine in mine_all:
        if not any(mine in pooled[r] for r in rates):
            continue
        if absent or rounds < 2:
            why = ([f"not measured: {', '.join(absent)}"] if absent else []) + \
                (["fewer than two rounds"] if rounds < 2 else [])
            lines.append(f"{head} {mine} **not judged** ({'; '.join(why)}).")
            continue
        wins, misses = 0, []
        for rate_key in rates:
            by_tool = pooled[rate_key]
            if mine not in by_tool:
                misses.append(f"not measured at {float(rate_key):,.0f}/s")
                continue
            for q in ("p50", "p99", "p999"):
                best = min(peers, key=lambda t: by_tool[t][q])
                if by_tool[mine][q] < by_tool[best][q]:
                    wins += 1
                else:
                    misses.append(f"{q} at {float(rate_key):,.0f}/s {by_tool[mine][q]:,.0f} ms against {best}'s "
                                  f"{by_tool[best][q]:,.0f}")
        lines.append(f"{head} {mine} **{'not met' if misses else 'met'}** (lower in {wins} of "
                     f"{3 * len(rates)} rate-and-percentile pairs{'; not: ' + ', '.join(misses) if misses else ''}).")
    return lines


def markdown(results: dict, chart: str) -> str:
    m = results["machine"]
    out = ["# kafka-mirror, MirrorMaker 2 and MirrorMaker 1, side by side", "",
           f"Measured {results['date']} by `make bench`: `kafka-lab up`, `ansible-playbook bench/prepare-lab.yml`, "
           f"then {' and '.join(f'`{c}`' for c in results['commands'])} (throughput and ceiling "
           f"{results['wall_s'] / 60:.0f} minutes, latency {results.get('latency_wall_s', 0) / 60:.0f} minutes). "
           "Generated by bench/mirrorbench/report.py from bench/results/results.json (the raw runs); how the runs "
           "are made, the tools' settings and what limits each tool: bench/README.md.", "",
           f"**Machine**: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
           f"{m['java']}; Python {m['python']}, confluent-kafka {m['confluent_kafka']}, librdkafka {m['librdkafka']}; "
           f"Apache Kafka {m['kafka']} jars for the brokers, MirrorMaker 2 and MirrorMaker 1.  ",
           f"**Lab**: {m['lab']}. Tools, brokers and the benchmark share the cores: figures compare tools on equal "
           "terms, they are not what a dedicated host reaches.", "", "## Goals", "", *goals(results), "",
           f"![throughput and latency]({chart})", "", "## Throughput", "",
           "Median (min-max) over the rounds; the rate is taken from the first to the last record arriving on the "
           "target, so start-up (JVM, group join, topic discovery) is excluded and shown on its own. CPU is user+system "
           "time of the tool's processes over the same window, per GB of keys, values and headers mirrored; RSS is the "
           "peak sum over the tool's processes (sampled every 100 ms).", "",
           "| workload | par. | tool | records/s | MB/s | CPU s/GB | peak RSS MiB | start-up s | runs "
           "| kafka-mirror / MM2 | kafka-mirror / MM1 |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in throughput_rows(results["throughput"]):
        vs = row["vs"]
        mine = vs.get(KM)
        r2 = r1 = ""
        if row["tool"] == KM and mine:
            if MM2 in vs:
                r2 = (f"{_ratio(mine['records_per_s'].median, vs[MM2]['records_per_s'].median)} rate, "
                      f"{_ratio(mine['cpu_s_per_gb'].median, vs[MM2]['cpu_s_per_gb'].median)} CPU/GB")
            if MM1 in vs:
                r1 = (f"{_ratio(mine['records_per_s'].median, vs[MM1]['records_per_s'].median)} rate, "
                      f"{_ratio(mine['cpu_s_per_gb'].median, vs[MM1]['cpu_s_per_gb'].median)} CPU/GB")
        out.append(f"| {row['workload']} | {row['parallelism']} | {row['tool']} | {_fmt(row['records_per_s'])} | "
                   f"{row['mb_per_s'].median:.1f} | {_fmt(row['cpu_s_per_gb'])} | {row['peak_rss_mib'].high:.0f} | "
                   f"{row['startup_s'].median:.1f} | {row['runs']} | {r2} | {r1} |")
    out += cores_table(results)
    if results.get("latency"):
        setup = results.get("latency_setup") or {"parallelism": 1, "value_size": 100}
        out += ["", "## End-to-end latency", "",
                f"{setup['value_size']:,}-byte records produced on the primary at a steady rate by a separate process "
                "for 35 s per run, the first 5 s left out; latency is the record's timestamp (set by the producer) to "
                f"its arrival at a consumer of the secondary. Parallelism {setup['parallelism']}; the tool is running "
                "and mirroring before the stream starts" +
                (", and an unmeasured run came first (brokers warmed up). " if "latency_setup" in results else ". ") +
                "Percentiles of all rounds' records pooled, and the range of each round's p99."]
        half = results.get("latency_half_rate")
        if half and f"{half:.0f}" in results["latency_pooled"]:
            out[-1] += (f" {half:,.0f} records/s is the goal's rate (half the slowest tool's median rate above); at "
                        "that rate the primary also takes the stream's writes on the same cores, and a tool that "
                        "cannot keep up shows queueing that grows through the run. A lower rate shows each tool below "
                        "saturation.")
        for rate_key, pooled in results["latency_pooled"].items():
            out += ["", f"At {float(rate_key):,.0f} records/s:", "",
                    "| tool | p50 ms | p99 ms | p999 ms | p99 per round ms | records | p99 kafka-mirror / tool |",
                    "|---|---|---|---|---|---|---|"]
            for tool in tool_order(pooled):  # an A/B variant too: what it was run for is this table
                per_round = [r["p99"] for r in results["latency"]
                             if r["tool"] == tool and f"{r['rate']:.0f}" == rate_key]
                p = pooled[tool]
                ratio = _ratio(pooled[KM]["p99"], p["p99"]) if KM in pooled and tool != KM else ""
                out.append(f"| {tool} | {p['p50']:,.0f} | {p['p99']:,.0f} | {p['p999']:,.0f} | "
                           f"{min(per_round):,.0f}-{max(per_round):,.0f} | {p['samples']:,} | {ratio} |")
            out += same_round_rows(results["latency"], rate_key)
            out += breakdown_rows([r.get("breakdown") for r in results["latency"]
                                   if r["tool"] == KM and f"{r['rate']:.0f}" == rate_key])
    if results.get("ceiling"):
        out += ["", "## The machine's ceiling", "",
                "A plain consumer reading the whole workload from the primary, and a plain producer writing it into a "
                "fresh topic of the secondary (acks=all), with the clients the tools use: librdkafka (kafka-mirror's, "
                "with kafka-mirror's consumer and producer settings) and the Java client (Kafka's ProducerPerformance and "
                "ConsumerPerformance; they send no keys or headers). A mirror is bound by the slower of the two for its "
                "client (the plain librdkafka producer builds every record in Python, so kafka-mirror, which only "
                "forwards bytes, can pass it a little). Median (min-max) records/s over the rounds.", "",
                "| workload | client | consume primary | produce secondary | best tool at parallelism 1, % of the slower |",
                "|---|---|---|---|---|"]
        grouped: dict = defaultdict(lambda: defaultdict(list))
        for c in results["ceiling"]:
            grouped[(c["workload"], c["client"])][c["direction"]].append(c["records_per_s"])
        tput = cells(results["throughput"])
        for (workload, client), d in grouped.items():
            cons, prod = Spread.of(d["consume primary"]), Spread.of(d["produce secondary"])
            tools = (KM,) if client == "librdkafka" else (MM2, MM1)
            best = max((summary(tput[(workload, 1)][t])["records_per_s"].median, t)
                       for t in tools if t in tput.get((workload, 1), {}))
            out.append(f"| {workload} | {client} | {_fmt(cons)} | {_fmt(prod)} | "
                       f"{best[1]} {100 * best[0] / min(cons.median, prod.median):.0f}% |")
    runs = results["throughput"]
    out += ["", "## Completeness", "",
            f"Every run was read back from the target record by record (each value carries its source partition and "
            f"sequence): {len(runs)} runs, {sum(r['records'] for r in runs):,} records received, "
            f"{sum(r['missing'] for r in runs)} missing, {sum(r['duplicates'] for r in runs)} duplicates, "
            f"{sum(r['malformed'] for r in runs)} with a wrong key or headers. Records on another partition than "
            f"their source's: " + ", ".join(
                f"{t} {sum(r['moved'] for r in runs if r['tool'] == t):,}" for t in ORDER
                if any(r['tool'] == t for r in runs))
            + " (MirrorMaker 1 repartitions with its producer's partitioner; the other two keep partitions). "
            "A run with a missing record stops the benchmark instead of being reported."]
    return "\n".join(out) + "\n"


def cores_table(results: dict) -> list[str]:
    cores = results["machine"]["cores"]
    acc = accounts(results["throughput"], cores)
    if not acc:
        return []
    out = ["", "## Where the cores went", "",
           f"The same runs: how busy the machine's {cores} cores were over the measured window (/proc/stat) and in the "
           f"{IDLE_S:g} s before the tool started (idle: the brokers' own timers, the lab's API, and whatever the "
           "previous run's topic deletion and read-back left), and the CPU per GB mirrored split into the tool, the "
           "lab's six brokers (their JVMs) and the rest (the machine's busy time less those two: the benchmark's "
           "sampling, the kernel's network, the lab's API). The brokers' share depends on the tool: how it batches "
           "and partitions its writes. Medians of each column over the rounds, so a row's parts need not add up.", "",
           "| workload | par. | tool | records/s | machine busy % | idle % | tool CPU s/GB | brokers CPU s/GB "
           "| rest CPU s/GB |", "|---|---|---|---|---|---|---|---|---|"]
    for row in throughput_rows(results["throughput"]):
        a = acc.get((row["workload"], row["parallelism"], row["tool"]))
        if a:
            out.append(f"| {row['workload']} | {row['parallelism']} | {row['tool']} | "
                       f"{row['records_per_s'].median:,.0f} | {100 * a['busy']:.0f} | {100 * a['idle']:.0f} | "
                       f"{a['tool']:.0f} | {a['brokers']:.0f} | {a['rest']:.0f} |")
    return out


def chart(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = throughput_rows(results["throughput"])
    keys = list(dict.fromkeys((r["workload"], r["parallelism"]) for r in rows))
    tools = tool_order({r["tool"] for r in rows})
    pooled_by_rate = results.get("latency_pooled", {})
    fig, axes = plt.subplots(1, 1 + len(pooled_by_rate), figsize=(6.5 + 3.6 * len(pooled_by_rate), 4.8),
                             gridspec_kw={"width_ratios": [2.2] + [1] * len(pooled_by_rate)}, squeeze=False)
    ax1 = axes[0][0]
    width = 0.8 / len(tools)
    for i, tool in enumerate(tools):
        xs, ys, errs = [], [], [[], []]
        for j, key in enumerate(keys):
            row = next((r for r in rows if (r["workload"], r["parallelism"]) == key and r["tool"] == tool), None)
            if row:
                s = row["records_per_s"]
                xs.append(j + i * width)
                ys.append(s.median / 1000)
                errs[0].append((s.median - s.low) / 1000)
                errs[1].append((s.high - s.median) / 1000)
        ax1.bar(xs, ys, width, yerr=errs, label=tool, capsize=3)
    ax1.set_xticks([j + width * (len(tools) - 1) / 2 for j in range(len(keys))],
                   [f"{w}\nparallelism {p}" for w, p in keys], fontsize=8)
    ax1.set_ylabel("thousand records/s (median, min-max)")
    ax1.set_title("Throughput")
    ax1.legend()
    for ax, (rate_key, pooled) in zip(axes[0][1:], pooled_by_rate.items()):
        lat_tools = [t for t in ORDER if t in pooled]
        for i, q in enumerate(("p50", "p99", "p999")):
            ax.bar([j + i * 0.27 for j in range(len(lat_tools))], [pooled[t][q] for t in lat_tools], 0.27, label=q)
        ax.set_xticks([j + 0.27 for j in range(len(lat_tools))], lat_tools, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("ms, record timestamp to arrival (log)")
        ax.set_title(f"Latency at {float(rate_key):,.0f} records/s")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fleet(doc: dict, chart_path: str) -> str:
    """bench/fleet_playbook.py's runs (fleet.json beside results.json): wall time and Ambari requests by fleet size."""
    rows = doc["rows"]
    out = ["", "## Fleet scale", "",
           f"`{doc['command']}` ({doc['date']}, code {doc['commit']}, {doc['cores']} cores): setup-mirroring.yml over "
           "pairs of simulated Ambari clusters served by the lab (no Kafka behind them, so the Ambari part of the play: "
           "network settings and rolling restarts of stale brokers), forks "
           f"{rows[0]['forks']}. A first run converges fresh clusters; the second must change nothing, and every "
           "HTTP request each cluster's Ambari endpoint received during it is counted from the lab's API log.", "",
           f"![wall time by fleet size]({chart_path})", "",
           "| pairs | clusters | first run s | no-change run s | changed | --check --diff s | changed | requests per "
           "cluster, no-change run (min / median / max) | writes |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        q = r["requests"]
        out.append(f"| {r['pairs']} | {r['clusters']} | {r['converge_s']} | {r['noop_s']} | {r['noop_changed']} | "
                   f"{r['check_s']} | {r['check_changed']} | {q['per_cluster']['min']} / "
                   f"{q['per_cluster']['median']:g} / {q['per_cluster']['max']} | {q['writes']} |")
    last = rows[-1]["requests"]["max_per_kind"]
    out += ["", f"What one cluster's endpoint received at most in the no-change run of {rows[-1]['pairs']} pairs, "
            "by request:", "", "| request | at most, per cluster |", "|---|---|",
            *(f"| `{k}` | {n} |" for k, n in sorted(last.items()))]
    return "\n".join(out) + "\n"


def scaleout(doc: dict) -> str:
    """bench/scaleout.py's rounds (scaleout.json beside results.json): one pair on one worker node, then on two."""
    rows = doc["rows"]
    by_nodes = {n: [r for r in rows if r["nodes"] == n] for n in sorted({r["nodes"] for r in rows})}
    mean = {n: sum(r["records_per_s"] for r in rs) / len(rs) for n, rs in by_nodes.items()}
    out = ["", "## Scale-out: worker nodes of one pair", "",
           f"`{doc['command']}` ({doc['date']}, code {doc['commit']}, {doc['cores']} cores): one pair deployed by "
           "setup-mirroring.yml to one worker node, then to two (the role on each, one consumer group), mirroring a "
           f"backlog of {rows[0]['records']:,} records of {doc['record_bytes']} bytes; timed from 20% to 90% of it on "
           "the target. CPU: the services' own (their processes' CPU time on each node). Both nodes, both clusters and "
           f"the controller share the machine's {doc['cores']} cores, so this shows the partitions split and the "
           "group's cost, not what a second machine adds. Each node runs the role's 4 streams "
           "(mirror_worker_num_streams), so two nodes run 8: how much of a gain more streams on one node would give "
           "too, this run does not separate.", "",
           "| nodes | round | records/s | MB/s | CPU s | CPU s per GB |", "|---|---|---|---|---|---|"]
    for n, rs in by_nodes.items():
        out += [f"| {n} | {i + 1} | {r['records_per_s']:,} | {r['mb_per_s']} | {r['cpu_s']} | {r['cpu_s_per_gb']} |"
                for i, r in enumerate(rs)]
    if 1 in mean and 2 in mean:
        out += ["", f"Two nodes against one, mean of the rounds: {mean[2] / mean[1]:.2f}x the records/s."]
    return "\n".join(out) + "\n"


def write(results: dict, out: Path, results_md: Path) -> None:
    png = out / "mirror-compare.png"
    chart(results, png)
    text = markdown(results, str(png.relative_to(results_md.parent)))
    if (out / "fleet.json").exists():
        text += fleet(json.loads((out / "fleet.json").read_text()),
                      str((out / "fleet.png").relative_to(results_md.parent)))
    if (out / "scaleout.json").exists():
        text += scaleout(json.loads((out / "scaleout.json").read_text()))
    results_md.write_text(text)
