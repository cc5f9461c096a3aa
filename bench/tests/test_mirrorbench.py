"""The benchmark's arithmetic and bookkeeping: what decides a reported figure must be right."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from mirrorbench import cli, report
from mirrorbench.procstat import TreeSampler, descendants, parse_stat
from mirrorbench.stats import Sample, Spread, mirror_window, percentile
from mirrorbench.workloads import FULL, Workload, identity, key_of, record


def test_window_leaves_start_up_and_early_records_out():
    samples = [Sample(10.0, 0, 1.0, 0), Sample(12.0, 0, 2.0, 0), Sample(13.0, 500, 3.0, 0),
               Sample(14.0, 800, 4.0, 0), Sample(15.0, 1000, 5.5, 0), Sample(16.0, 1000, 6.0, 0)]
    w = mirror_window(samples, 1000, started=9.0)
    assert (w.records, w.seconds, w.cpu_s, w.startup_s) == (500, 2.0, 2.5, 4.0)
    assert w.rate == 250.0


def test_window_refuses_an_incomplete_run_and_an_unmeasurable_one():
    with pytest.raises(ValueError, match="never held all 1000"):
        mirror_window([Sample(1.0, 0, 0, 0), Sample(2.0, 999, 0, 0)], 1000, 0.0)
    with pytest.raises(ValueError, match="between two samples"):
        mirror_window([Sample(1.0, 0, 0, 0), Sample(2.0, 1000, 0, 0)], 1000, 0.0)


def test_nearest_rank_percentiles_and_spread():
    values = sorted(range(1, 1001))
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 99.9)) == (500, 990, 999)
    assert percentile([7], 99.9) == 7
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(2.0, 1.0, 3.0, 3)


def test_every_record_carries_its_source_identity():
    w = Workload("t", "t", 17, 100)
    assert w.per_partition() == [3, 2, 2, 2, 2, 2, 2, 2] and sum(w.per_partition()) == 17
    key, value, headers = record(w, 5, 123456)
    assert key is None and headers is None and len(value) == 100 and identity(value) == (5, 123456)
    keyed = FULL[2]
    key, value, headers = record(keyed, 7, 42)
    assert key == key_of(7, 42) and len(headers) == 3 and identity(value) == (7, 42)
    assert keyed.record_bytes == len(key) + len(value) + sum(len(k) + len(v) for k, v in headers)
    with pytest.raises(ValueError, match="at least 12 bytes"):
        Workload("tiny", "t", 1, 8)


def test_stat_line_with_spaces_and_parens_in_the_name():
    line = "4242 (java (mm2) x) S 4200 4242 4242 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 30 0 100 999 777 18446744073709551615"
    assert parse_stat(line) == (4200, 175, 777)


def test_descendants_follow_the_tree_only():
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 11, 20: 1, 21: 20}
    assert descendants(10, parents) == {10, 11, 12, 13}


def test_sampler_counts_a_child_process_and_keeps_its_cpu_after_it_exits():
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.process_time()\n"
                              "while time.process_time()-t<0.3: pass\ntime.sleep(0.5)"])
    sampler = TreeSampler(os.getpid())
    time.sleep(0.35)
    cpu_during, rss = sampler.sample()
    child.wait()
    cpu_after, _ = sampler.sample()
    assert rss > 0 and sampler.peak_rss >= rss
    assert cpu_after >= cpu_during >= 0.25  # the child's busy loop is counted and not lost when it exits


def _run(tool, par, rate, cpu, rnd=1, workload="100 B", complete=True):
    return {"tool": tool, "workload": workload, "parallelism": par, "round": rnd, "records_per_s": rate,
            "mb_per_s": rate / 1e4, "cpu_s_per_gb": cpu, "peak_rss_mib": 100.0, "startup_s": 1.0,
            "records": 1000, "missing": 0 if complete else 5, "duplicates": 0, "moved": 0, "malformed": 0,
            "complete": complete}


RESULTS = {
    "commands": ["python -m mirrorbench --rounds 2"], "date": "2026-11-21", "wall_s": 600.0, "latency_wall_s": 120.0,
    "machine": {"cores": 2, "cpu": "x", "memory_gib": 24, "kernel": "k", "java": "j", "python": "3", "kafka": "3.9.1",
                "confluent_kafka": "2", "librdkafka": "2", "lab": "lab"},
    "throughput": [_run(report.KM, 1, 150.0, 20.0), _run(report.KM, 1, 130.0, 22.0, 2),
                   _run(report.MM2, 1, 50.0, 100.0), _run(report.MM2, 1, 70.0, 110.0, 2),
                   _run(report.MM1, 1, 140.0, 50.0), _run(report.MM1, 1, 999.0, 1.0, 2, complete=False),
                   _run(report.KM, 4, 200.0, 40.0), _run(report.MM2, 4, 150.0, 30.0)],
    "ceiling": [],
    "latency": [{"tool": report.KM, "rate": 30.0, "p99": 300}, {"tool": report.MM2, "rate": 30.0, "p99": 1000},
                {"tool": report.KM, "rate": 10.0, "p99": 2000}, {"tool": report.MM2, "rate": 10.0, "p99": 100}],
    "latency_half_rate": 30.0,
    "latency_pooled": {"30": {report.KM: {"p50": 40, "p99": 300, "p999": 400, "samples": 10},
                              report.MM2: {"p50": 150, "p99": 1000, "p999": 1200, "samples": 10}},
                       "10": {report.KM: {"p50": 20, "p99": 2000, "p999": 3000, "samples": 10},
                              report.MM2: {"p50": 30, "p99": 100, "p999": 200, "samples": 10}}},
}


def test_incomplete_runs_are_never_figures():
    assert len(report.cells(RESULTS["throughput"])[("100 B", 1)][report.MM1]) == 1


def test_latency_rate_is_half_the_slowest_median():
    assert report.latency_rate(RESULTS["throughput"]) == round(60.0 / 2, -2)  # MM2's median 60 -> 30 -> rounded


def test_goals_are_judged_row_by_row_with_their_figures():
    lines = report.goals(RESULTS)
    assert "**not met** (met in 1 of 2 rows); lowest 1.33x (100 B, parallelism 4)" in lines[0]  # 200/150; 140/60 = 2.33x met
    assert "**not met** (met in 1 of 2 rows); highest kafka-mirror/MirrorMaker 2 ratio 1.33 (100 B, parallelism 4)" in lines[1]
    assert "(at 30 records/s, half the slowest tool's rate): **met** (300 ms against 1000 ms)" in lines[2]


def _pooled(p50: int, p99: int, p999: int) -> dict:
    return {"p50": p50, "p99": p99, "p999": p999}


LATENCY_PEERS = {report.MM2: _pooled(90, 900, 990), report.MM2_TUNED: _pooled(35, 900, 999),
                 report.MM1: _pooled(60, 280, 450), report.MM1_TUNED: _pooled(300, 700, 800)}


def latency_results(pooled: dict, rounds: int = 2) -> dict:
    return {"latency_pooled": pooled, "latency_setup": {"parallelism": 4, "value_size": 1024},
            "latency": [{"tool": report.KM, "round": r, "rate": 1000.0} for r in range(1, rounds + 1)]}


def test_the_latency_goal_is_every_rate_and_percentile_against_every_mirrormaker_and_names_the_variant_that_meets_it():
    variant = "kafka-mirror, --partitioning producer"
    pooled = {"1000": {report.KM: _pooled(40, 300, 500), variant: _pooled(30, 250, 400), **LATENCY_PEERS,
                       "kafka-mirror at abc1234": _pooled(1, 1, 1),  # an A/B of code: neither judged nor a peer
                       "kafka-mirror, x (SASL_SSL)": _pooled(1, 1, 1)},  # another security mode: not judged here
              "10000": {report.KM: _pooled(50, 300, 400), variant: _pooled(45, 290, 390),
                        report.MM2: _pooled(48, 900, 990), report.MM2_TUNED: _pooled(70, 900, 999),
                        report.MM1: _pooled(55, 300, 420), report.MM1_TUNED: _pooled(300, 700, 395)}}
    lines = report.latency_goal(latency_results(pooled, rounds=3))
    assert len(lines) == 2
    assert lines[0].startswith("- Latency lower than every MirrorMaker configuration (MirrorMaker 2, MirrorMaker 2 "
                               "tuned, MirrorMaker 1, MirrorMaker 1 tuned) at every rate (1,024-byte records, "
                               "parallelism 4, 3 round(s) pooled")
    # a tie is not lower; each miss names the percentile, the rate and the configuration that was lower
    assert (f"{report.KM} **not met** (lower in 0 of 6 rate-and-percentile pairs; not: p50 at 1,000/s 40 ms against "
            f"{report.MM2_TUNED}'s 35, p99 at 1,000/s 300 ms against {report.MM1}'s 280, p999 at 1,000/s 500 ms "
            f"against {report.MM1}'s 450, p50 at 10,000/s 50 ms against {report.MM2}'s 48, p99 at 10,000/s 300 ms "
            f"against {report.MM1}'s 300, p999 at 10,000/s 400 ms against {report.MM1_TUNED}'s 395)") in lines[0]
    assert lines[1].endswith(f"{variant} **met** (lower in 6 of 6 rate-and-percentile pairs).")
    # the variant at one rate only is not met at the other
    del pooled["10000"][variant]
    assert report.latency_goal(latency_results(pooled))[1].endswith(
        f"{variant} **not met** (lower in 3 of 6 rate-and-percentile pairs; not: not measured at 10,000/s).")


@pytest.mark.parametrize("change, why", [
    (lambda p: p["10000"].pop(report.MM1_TUNED), "not measured: MirrorMaker 1 tuned at 10,000/s"),
    (lambda p: p.update({"60000": {report.KM: _pooled(1, 1, 1)}}),  # a rate no MirrorMaker ran at
     "not measured: MirrorMaker 2 at 60,000/s, MirrorMaker 2 tuned at 60,000/s, MirrorMaker 1 at 60,000/s, "
     "MirrorMaker 1 tuned at 60,000/s"),
    (None, "fewer than two rounds")])
def test_the_latency_goal_is_not_judged_without_every_mirrormaker_at_every_rate_or_with_one_round(change, why):
    pooled = {r: {report.KM: _pooled(1, 1, 1), **LATENCY_PEERS} for r in ("1000", "10000")}
    if change:
        change(pooled)
    lines = report.latency_goal(latency_results(pooled, rounds=2 if change else 1))
    assert lines == [lines[0]] and lines[0].endswith(f"{report.KM} **not judged** ({why}).")


def test_the_goals_end_with_the_latency_goal():
    assert "**not judged** (not measured: MirrorMaker 2 tuned at 10/s" in report.goals(RESULTS)[-1]
    assert report.latency_goal({"latency_pooled": {}}) == []


def test_markdown_rows_carry_medians_spreads_and_ratios():
    md = report.markdown(RESULTS, "results/x.png")
    assert "| 100 B | 1 | kafka-mirror | 140 (130-150) |" in md
    assert "2.33x rate, 0.20x CPU/GB | 1.00x rate, 0.42x CPU/GB |" in md  # 140/60, 21/105 | 140/140, 21/50
    assert "then `python -m mirrorbench --rounds 2` (throughput and ceiling 10 minutes, latency 2 minutes)" in md
    assert "5 missing" in md  # left out of the figures, never out of the completeness count
    assert "At 30 records/s:" in md and "At 10 records/s:" in md


def test_profile_self_time_counts_leaf_frames():
    from mirrorbench.profile import self_time
    raw = ("run (mirror.py:78);_pass (mirror.py:124);fetch (mirror.py:47) 30\n"
           "run (mirror.py:78);_pass (mirror.py:133) 50\n"
           "run (mirror.py:78);_pass (mirror.py:133) 20\n"
           "garbage line\n")
    leaves, total = self_time(raw)
    assert total == 100
    assert leaves == {"_pass (mirror.py:133)": 70, "fetch (mirror.py:47)": 30}


def test_variants_of_a_setting_come_after_the_three_tools():
    assert report.tool_order({"kafka-mirror, x=1", report.MM1, report.KM}) == [report.KM, report.MM1,
                                                                                "kafka-mirror, x=1"]


def test_machine_facts_name_the_kafka_release_the_lab_runs(tmp_path, monkeypatch):
    from kafka_lab.layout import LabConfig, Paths
    from mirrorbench import machine

    monkeypatch.setenv("KAFKA_LAB_HOME", str(tmp_path))
    assert machine.lab_kafka_version() == "3.9.1"  # no lab there yet: the default release
    Paths(tmp_path).config.parent.mkdir(parents=True, exist_ok=True)
    Paths(tmp_path).config.write_text(LabConfig(home=tmp_path, kafka_version="2.4.1").to_json())
    assert machine.lab_kafka_version() == "2.4.1"
    Paths(tmp_path).config.write_text(LabConfig(home=tmp_path).to_json())
    facts = machine.facts(SimpleNamespace(primary="p:9092", secondary="s:9092"))
    assert facts["kafka"] == "3.9.1" and "17" in facts["java"]


def test_the_fault_suite_and_the_benchmark_load():
    """Their entry points import (`make faults`, `make bench`): nothing else runs them in make test."""
    import mirrorbench.cli
    import mirrorfaults.cli

    assert callable(mirrorbench.cli.main) and callable(mirrorfaults.cli.main)


def test_over_sasl_ssl_each_tool_reaches_both_secure_listeners_with_the_password_in_0600_files_only(tmp_path,
                                                                                                     monkeypatch):
    """make bench-quick's --secure: the secure lab's own settings (kafka-lab up --secure), per cluster."""
    from kafka_lab.layout import LabConfig, Paths
    from kafka_lab.runtime import KafkaRuntime
    from mirrorbench import clusters, tools

    paths = Paths(tmp_path)
    config = LabConfig(home=tmp_path, secure=True)
    paths.config.parent.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(config.to_json())
    for cluster in config.clusters()[:2]:
        paths.kafka_password(cluster.name).parent.mkdir(parents=True, exist_ok=True)
        paths.kafka_password(cluster.name).write_text(f"pw-{cluster.role}\n")
    monkeypatch.setenv("KAFKA_LAB_HOME", str(tmp_path))
    lab = clusters.lab()
    primary, secondary = lab.secure
    assert lab.primary.endswith(":9092") and primary.bootstrap.endswith(":9094")
    assert primary.bootstrap.split(":")[0] == lab.primary.split(":")[0]
    runtime = KafkaRuntime(tmp_path, tmp_path)
    for key in ("kafka-mirror", "mm2", "mm1"):
        work = tmp_path / key
        work.mkdir()
        secured = tools.OverSaslSsl(tools.TOOLS[key], lab.secure)
        assert secured.name == f"{tools.TOOLS[key].name} (SASL_SSL)"
        launch = secured.launch(tools.Job(work, "t", 1, "r", lab.primary, lab.secondary), runtime)
        assert not any("pw-" in arg for arg in launch.argv + list(launch.env.values()))
        text = {f.name: f.read_text() for f in work.iterdir()}
        assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in work.iterdir())
        if key == "mm2":
            props = text["mm2.properties"]
            assert f"primary.bootstrap.servers = {primary.bootstrap}" in props
            assert "primary.security.protocol = SASL_SSL" in props and "secondary.sasl.mechanism = SCRAM-SHA-512" in props
            assert 'primary.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required ' \
                   'username="mirror-primary" password="pw-primary";' in props
            assert f"secondary.ssl.truststore.location = {paths.ca_cert}" in props and 'password="pw-secondary"' in props
        else:
            consumer, producer = text["consumer.properties"], text["producer.properties"]
            assert f"bootstrap.servers={primary.bootstrap}" in consumer and 'password="pw-primary"' in consumer
            assert f"bootstrap.servers={secondary.bootstrap}" in producer and 'password="pw-secondary"' in producer
            assert "security.protocol=SASL_SSL" in consumer and "ssl.truststore.type=PEM" in producer


def test_quick_line_with_sasl_ssl_gives_each_tools_cost_and_the_ratio_over_sasl_ssl():
    runs = [_run(report.KM, 1, 200.0, 1.0), _run(report.MM2, 1, 100.0, 1.0),
            _run(report.SECURED % report.KM, 1, 150.0, 1.0), _run(report.SECURED % report.MM2, 1, 60.0, 1.0)]
    line = report.quick_line(runs)
    assert "parallelism 1: 2.00x (200 vs 100 records/s" in line
    assert "over SASL_SSL: kafka-mirror / MirrorMaker 2 2.50x (150 vs 60 records/s); SASL_SSL over PLAINTEXT: " \
           "kafka-mirror 0.75x, MirrorMaker 2 0.60x" in line


def test_fleet_requests_are_counted_per_cluster_and_by_what_was_read():
    import fleet_playbook

    lines = [
        '2026 INFO kafka_lab.ambari sim-1 127.0.0.1 "GET /api/v1/clusters/sim-1?fields=Clusters/desired_configs HTTP/1.1" 200 -',
        '2026 INFO kafka_lab.ambari sim-1 127.0.0.1 "GET /api/v1/clusters/sim-1/configurations?type=kafka-env&tag=v2 HTTP/1.1" 200 -',
        '2026 INFO kafka_lab.ambari sim-2 127.0.0.1 "GET /api/v1/clusters/sim-2/configurations?type=kafka-env&tag=v9 HTTP/1.1" 200 -',
        '2026 INFO kafka_lab.ambari sim-2 127.0.0.1 "GET /api/v1/clusters/sim-2/configurations?type=kafka-env&tag=v8 HTTP/1.1" 200 -',
        '2026 INFO kafka_lab.ambari sim-2 127.0.0.1 "PUT /api/v1/clusters/sim-2 HTTP/1.1" 200 -',
        '2026 INFO kafka_lab.ambari kafka-primary-cluster 127.0.0.1 "GET /api/v1/clusters/x HTTP/1.1" 200 -',
    ]
    counted = fleet_playbook.count(lines, ["sim-1", "sim-2", "sim-3"])
    assert counted["per_cluster"] == {"min": 0, "median": 2, "max": 3} and counted["writes"] == 1
    assert counted["max_per_kind"] == {"GET /api/v1/clusters/C?fields=Clusters/desired_configs": 1,
                                       "GET config kafka-env": 2, "PUT /api/v1/clusters/C": 1}


def test_fleet_requests_are_counted_from_what_the_log_got_during_the_action_only(tmp_path, monkeypatch):
    import fleet_playbook

    log = tmp_path / "ambari.log"
    line = '2026 INFO kafka_lab.ambari sim-1 127.0.0.1 "GET /api/v1/clusters/sim-1 HTTP/1.1" 200 -\n'
    log.write_text(line * 3)  # before the action: not counted
    monkeypatch.setattr(fleet_playbook, "home", lambda: tmp_path)

    def action():
        with open(log, "a") as f:
            f.write(line.replace("GET", "PUT"))
        return "done"

    result, counted = fleet_playbook.requests_during(["sim-1"], action)
    assert result == "done" and counted["per_cluster"]["max"] == 1 and counted["writes"] == 1


def test_scaleout_section_has_every_round_and_the_ratio_of_the_means():
    row = {"records": 2_000_000, "mb_per_s": 1.0, "cpu_s": 1.0, "cpu_s_per_gb": 2.0}
    doc = {"command": "python bench/scaleout.py", "date": "2026-12-03", "commit": "abc", "cores": 2,
           "record_bytes": 120, "rows": [{**row, "nodes": 1, "records_per_s": 40_000},
                                         {**row, "nodes": 2, "records_per_s": 50_000},
                                         {**row, "nodes": 1, "records_per_s": 60_000},
                                         {**row, "nodes": 2, "records_per_s": 50_000}]}
    text = report.scaleout(doc)
    assert text.count("\n| 1 | ") == 2 and text.count("\n| 2 | ") == 2
    assert "| 2 | 2 | 50,000 | 1.0 | 1.0 | 2.0 |" in text
    assert "Two nodes against one, mean of the rounds: 1.00x the records/s." in text


def test_quick_line_ends_with_the_tuned_mirrormaker_2_ratio():
    runs = [_run(report.KM, 1, 300.0, 1.0), _run(report.MM2, 1, 100.0, 1.0), _run(report.MM2_TUNED, 1, 150.0, 1.0)]
    assert report.quick_line(runs).splitlines()[-1] == \
        "kafka-mirror / MirrorMaker 2 tuned: 2.00x (300 vs 150 records/s)"


def test_tuned_peers_get_the_settings_where_each_tool_reads_them(tmp_path):
    from mirrorbench.tools import TOOLS, TUNED_CONSUMER, TUNED_PRODUCER, Job

    job = Job(workdir=tmp_path, primary="p:9092", secondary="s:9092", topic="t", parallelism=4, run_id="r")
    runtime = type("Runtime", (), {"java": Path("/bin/java"), "classpath": "cp"})()
    TOOLS["mm2-tuned"].launch(job, runtime)
    props = (tmp_path / "mm2.properties").read_text()
    # apache/kafka 3.9 MirrorMakerConfig: <target>.producer.* to the Connect worker's producer, <source>.consumer.*
    # to the source connector's consumer (source.consumer.*)
    assert all(f"secondary.producer.{k} = {v}" in props for k, v in TUNED_PRODUCER.items())
    assert all(f"primary.consumer.{k} = {v}" in props for k, v in TUNED_CONSUMER.items())
    assert "tasks.max = 4" in props
    TOOLS["mm1-tuned"].launch(job, runtime)
    consumer, producer = (tmp_path / "consumer.properties").read_text(), (tmp_path / "producer.properties").read_text()
    assert all(f"{k}={v}\n" in consumer for k, v in TUNED_CONSUMER.items())
    assert all(f"{k}={v}\n" in producer for k, v in TUNED_PRODUCER.items())
    TOOLS["mm1"].launch(job, runtime)  # the default peer's files stay the article's
    assert "batch.size" not in (tmp_path / "producer.properties").read_text()


@pytest.mark.parametrize("key, option, settings", [
    ("kafka-mirror-producer", "--partitioning producer", ("producer", 5.0, "10")),
    ("kafka-mirror-producer-sticky40", "--partitioning producer", ("producer", 5.0, "40")),
    ("kafka-mirror-commit60", "--offset.commit.interval.ms 60000", ("source", 60.0, "10")),
    ("kafka-mirror-producer-commit60", "--offset.commit.interval.ms 60000", ("producer", 60.0, "10"))])
def test_a_variants_options_reach_kafka_mirrors_command_line_and_kafka_mirror_takes_them(tmp_path, key, option,
                                                                                        settings):
    from kafka_mirror.config import load
    from mirrorbench.tools import TOOLS, Job

    job = Job(workdir=tmp_path, primary="p:9092", secondary="s:9092", topic="t", parallelism=1, run_id="r")
    argv = TOOLS[key].launch(job, None).argv
    assert option in " ".join(argv)
    cfg = load(argv[1:])  # what the worker makes of the same command line and files
    assert (cfg.partitioning, cfg.commit_interval_s, cfg.producer.get("sticky.partitioning.linger.ms", "10")) == \
        settings


def test_a_baseline_checkout_runs_as_one_more_tool_named_by_its_commit_and_imported_before_todays(tmp_path, capsys):
    from mirrorbench.tools import Job

    src = tmp_path / "worker" / "src"
    (src / "kafka_mirror").mkdir(parents=True)
    (src / "kafka_mirror" / "__init__.py").write_text("BASELINE = True\n")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    rev = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    tool = cli.baseline(src)
    assert tool.name == f"kafka-mirror at {rev}"
    (src / "kafka_mirror" / "__init__.py").write_text("BASELINE = 'edited'\n")
    assert cli.baseline(src).name == f"kafka-mirror at {rev} modified"
    job = Job(workdir=tmp_path, primary="p:9092", secondary="s:9092", topic="t", parallelism=1, run_id="r")
    launch = tool.launch(job, None)
    assert launch.env["PYTHONPATH"] == str(src.resolve())
    # the bench's interpreter has today's kafka_mirror installed (editable): the baseline's path must come first
    imported = subprocess.run([sys.executable, "-c", "import kafka_mirror; print(kafka_mirror.BASELINE)"],
                              env={**os.environ, **launch.env}, capture_output=True, text=True)
    assert imported.stdout.strip() == "edited"
    with pytest.raises(SystemExit):
        cli.parse(["--baseline", str(tmp_path)])  # the checkout, not its worker/src
    assert "no kafka_mirror package there (give a checkout's worker/src)" in capsys.readouterr().err


def test_the_best_peer_of_a_row_is_the_fastest_mirrormaker_configuration():
    runs = [_run(report.KM, 1, 300.0, 1.0), _run(report.MM2, 1, 100.0, 1.0), _run(report.MM2_TUNED, 1, 250.0, 1.0),
            _run(report.MM1_TUNED, 1, 150.0, 1.0)]
    (row, (peer, rate, cpu)), = report.best_peer_ratios(runs).items()
    assert peer == report.MM2_TUNED and rate == pytest.approx(1.2)
    line = [g for g in report.goals({"throughput": runs}) if "best MirrorMaker" in g][0]
    assert "**not met** (met in 0 of 1 rows), lowest 1.20x against MirrorMaker 2 tuned" in line


def test_a_run_without_tuned_peers_is_not_judged_against_the_best_mirrormaker():
    runs = [_run(report.KM, 1, 300.0, 1.0), _run(report.MM2, 1, 100.0, 1.0), _run(report.MM1, 1, 150.0, 1.0)]
    line = [g for g in report.goals({"throughput": runs}) if "best MirrorMaker" in g][0]
    assert "**not judged**, this run has no tuned MirrorMaker" in line


def test_latency_runs_begin_with_an_unmeasured_warm_up(monkeypatch, tmp_path):
    """The first measured run must not meet brokers still warming up: one run before, discarded."""
    from argparse import Namespace

    from mirrorbench import cli
    from mirrorbench.runs import LatencyRun

    from types import SimpleNamespace

    calls = []

    def latency(lab, runtime, tool, rate, rnd, workdir, seconds, value_size, parallelism):
        calls.append((tool.name, rate, rnd, seconds))
        return LatencyRun(tool.name, rnd, rate, 100, 100, [5] * 100)

    monkeypatch.setattr(cli, "latency", latency)
    monkeypatch.setattr(cli, "log", lambda text: None)
    args = Namespace(latency_rates="1000,10000", rounds=1, latency_seconds=30.0, latency_parallelism=1,
                     latency_value_size=100)
    results = {"throughput": [{"workload": "w", "value_size": 100, "parallelism": 1, "tool": "a", "complete": True,
                               "records_per_s": 2000.0}], "latency": []}
    monkeypatch.setattr(cli.report, "latency_rate", lambda throughput: 1000.0)
    cli.latencies(args, None, None, [SimpleNamespace(name="a"), SimpleNamespace(name="b")], tmp_path, results)
    assert calls[0] == ("a", 1000.0, 0, cli.WARMUP_RUN_S)  # first, at the first rate, round 0
    assert [c[:3] for c in calls[1:]] == [("a", 1000.0, 1), ("b", 1000.0, 1), ("a", 10000.0, 1), ("b", 10000.0, 1)]
    assert [(r["tool"], r["round"]) for r in results["latency"]] == [("a", 1), ("b", 1), ("a", 1), ("b", 1)]


def test_the_latency_section_names_the_goals_rate_and_the_warm_up_only_where_they_were():
    md = report.markdown(RESULTS, "results/x.png")
    assert "30 records/s is the goal's rate" in md and "an unmeasured run came first" not in md
    explicit = {**RESULTS, "latency_setup": {"parallelism": 4, "value_size": 1024}, "latency_half_rate": 5.0}
    md = report.markdown(explicit, "results/x.png")
    assert "is the goal's rate" not in md  # rates given on the command line: none of them the goal's
    assert "an unmeasured run came first" in md and "1,024-byte records" in md and "Parallelism 4" in md


def test_a_part_measured_again_without_the_earlier_runs_says_so_without_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--report-only", "--out", str(tmp_path)])
    assert stop.value.code == 1
    err = capsys.readouterr()
    text = err.out + err.err
    assert f"--report-only builds on the runs in {tmp_path / 'results.json'}, and there is none" in text
    assert "Traceback" not in text
    assert not (tmp_path / "RESULTS.md").exists()


def test_measuring_one_part_again_without_the_earlier_runs_fails_before_asking_the_lab(tmp_path, capsys,
                                                                                        monkeypatch):
    from mirrorbench import clusters

    asked = []
    monkeypatch.setattr(clusters, "lab", lambda: SimpleNamespace(home=tmp_path))
    monkeypatch.setattr(clusters, "reachable", lambda bootstrap: asked.append(bootstrap))
    with pytest.raises(SystemExit) as stop:
        cli.main(["--only", "latency", "--out", str(tmp_path / "none")])
    assert stop.value.code == 1 and asked == []
    assert f"--only builds on the runs in {tmp_path / 'none' / 'results.json'}, and there is none" in \
        capsys.readouterr().out
    assert not (tmp_path / "none").exists()


def test_a_variant_run_for_an_a_b_gets_its_latency_row_after_the_tools():
    variant = "kafka-mirror, linger.ms=20"
    results = {**RESULTS, "latency": [*RESULTS["latency"], {"tool": variant, "rate": 30.0, "p99": 250}],
               "latency_pooled": {"30": {**RESULTS["latency_pooled"]["30"],
                                         variant: {"p50": 35, "p99": 250, "p999": 350, "samples": 10}}}}
    md = report.markdown(results, "results/x.png")
    rows = [line for line in md.splitlines() if line.startswith(f"| {variant} | 35 | 250 | 350 |")]
    assert len(rows) == 1 and rows[0].endswith("| 1.20x |")  # kafka-mirror's p99 300 against 250
    assert md.index(f"| {report.MM2} | 150 |") < md.index(rows[0])


def test_latency_is_also_compared_round_by_round_where_each_tool_ran_in_each_round():
    def run(tool, rnd, p50, p99, rate=30.0):
        return {"tool": tool, "round": rnd, "rate": rate, "p50": p50, "p99": p99}
    runs = [run(report.KM, 1, 40, 300), run(report.MM1, 1, 30, 330), run(report.KM, 2, 90, 500),
            run(report.MM1, 2, 100, 400), run(report.KM, 3, 50, 300), run(report.MM1, 3, 45, 200),
            run(report.KM, 4, 70, 300), run(report.MM2_TUNED, 4, 70, 250), run(report.KM, 5, 60, 300),
            run(report.MM2_TUNED, 5, 80, 200),  # a tie at p50 is said, not counted as lower
            run(report.MM2, 1, 80, 900),  # one round only: no pair to speak of
            run(report.MM1, 6, 1, 1), run(report.KM, 1, 1, 1, rate=60.0)]  # no partner; another rate
    rows = report.same_round_rows(runs, "30")
    # p50: lower in round 2 only; ratios 1.33, 0.90, 1.11 -> median 1.11. p99: lower in round 1; 0.91, 1.25, 1.5
    assert f"| {report.MM1} | 1 of 3 | 1.11x | 1 of 3 | 1.25x | 40/30, 90/100, 50/45 |" in rows
    assert f"| {report.MM2_TUNED} | 1 of 2, 1 tied | 0.88x | 0 of 2 | 1.35x | 70/70, 60/80 |" in rows
    assert not any(r.startswith(f"| {report.MM2} |") for r in rows)
    assert report.same_round_rows(runs, "60") == []
    old = [{k: v for k, v in r.items() if k != "round"} for r in runs]  # results from before rounds were kept
    assert report.same_round_rows(old, "30") == []


def test_earlier_runs_that_are_not_a_results_file_say_so_without_a_traceback(tmp_path, capsys):
    (tmp_path / "results.json").write_text("")
    with pytest.raises(SystemExit) as stop:
        cli.main(["--report-only", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert stop.value.code == 1 and "which is not a results file" in text and "Traceback" not in text


def test_the_machines_busy_time_leaves_idle_and_iowait_out_and_a_pids_cpu_counts_all_its_threads(tmp_path):
    from mirrorbench.procstat import CLK_TCK, busy_s, cpu_s
    # proc(5): cpu user nice system idle iowait irq softirq steal guest guest_nice
    (tmp_path / "stat").write_text("cpu  100 5 40 9000 300 3 2 10 7 0\ncpu0 50 2 20 4500 150 1 1 5 0 0\n")
    assert busy_s(tmp_path) == pytest.approx((100 + 5 + 40 + 3 + 2 + 10) / CLK_TCK)
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "stat").write_text("42 (java) S 1 42 42 0 -1 0 0 0 0 0 300 45 0 0 20 0 90 0 1 1 1 0")
    assert cpu_s([42, 43], tmp_path) == pytest.approx(345 / CLK_TCK)  # 43 is gone: it counts nothing


def test_the_cores_account_splits_the_machines_cpu_per_gb_into_tool_brokers_and_the_rest():
    # 100,000 records/s of 100 B = 0.01 GB/s; 2 cores 90% busy = 180 CPU s per GB
    run = {**_run(report.KM, 1, 100_000.0, 80.0), "mb_per_s": 10.0, "brokers_cpu_s_per_gb": 70.0,
           "machine_busy": 0.9, "idle_busy": 0.1}
    a = report.cores_account(run, 2)
    assert (a["busy"], a["idle"], a["tool"], a["brokers"]) == (0.9, 0.1, 80.0, 70.0)
    assert a["rest"] == pytest.approx(30.0)
    assert report.cores_account(_run(report.KM, 1, 1.0, 1.0), 2) is None  # a run from before: no figure
    md = report.markdown({**RESULTS, "throughput": [run, {**run, "round": 2, "machine_busy": 0.7}]}, "x.png")
    assert "| 100 B | 1 | kafka-mirror | 100,000 | 80 | 10 | 80 | 70 | 10 |" in md  # medians: busy 80%, rest 10


@pytest.mark.parametrize("n", [2, 3, 5])
def test_each_tool_takes_each_place_in_a_rounds_order_once_every_len_tools_rounds(n):
    tools = [f"tool{i}" for i in range(n)]
    orders = [cli.in_turn(tools, rnd) for rnd in range(1, 2 * n + 1)]
    assert orders[0] == tools and orders[n:] == orders[:n]
    for place in range(n):
        assert sorted(o[place] for o in orders[:n]) == tools
