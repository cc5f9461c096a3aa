"""The failover demonstration's judging and report: pure."""
from __future__ import annotations

from failoverdemo import report
from failoverdemo.judge import judge

SOURCE = {(p, s) for p in (0, 1) for s in range(10)}
PROCESSED = {(p, s) for p in (0, 1) for s in range(4)}  # the group's position: sequence 4 in each partition
TARGET = sorted(SOURCE)


def test_an_exact_failover_reads_each_record_after_the_position_once():
    reads = [(p, s) for p in (0, 1) for s in range(4, 10)]
    v = judge(SOURCE, PROCESSED, reads, TARGET)
    assert (v.skipped, v.reread, v.read_twice, v.not_mirrored, v.exact_starts, v.partitions) == (0, 0, 0, 0, 2, 2)
    assert (v.read_on_primary, v.read_on_secondary) == (8, 12)


def test_a_failover_behind_the_position_counts_re_reads_and_one_ahead_counts_skips():
    reads = [(0, s) for s in range(2, 10)] + [(1, s) for s in range(6, 10)]  # 0 lands 2 behind, 1 lands 2 ahead
    v = judge(SOURCE, PROCESSED, reads, TARGET)
    assert (v.reread, v.skipped, v.exact_starts) == (2, 2, 0)


def test_the_secondarys_duplicates_are_read_twice_and_bound_it_and_missing_copies_are_not_skips():
    target = TARGET + [(0, 5), (0, 6), (0, 1)]  # a re-copy after a crash: two after the position, one before
    target = [r for r in target if r != (1, 9)]  # never mirrored
    reads = [(0, s) for s in (4, 5, 6, 5, 6, 7, 8, 9)] + [(1, s) for s in range(4, 9)]
    v = judge(SOURCE, PROCESSED, reads, target)
    assert (v.read_twice, v.target_duplicates, v.not_mirrored, v.skipped, v.reread) == (2, 2, 1, 0, 0)
    assert v.target_duplicates_before == 1


def test_the_report_replaces_its_section_and_keeps_the_rest(tmp_path):
    row = {"kills": 0, "tool": "kafka-mirror", "read_on_primary": 8, "read_on_secondary": 12, "skipped": 0,
           "reread": 0, "read_twice": 0, "target_duplicates": 0, "target_duplicates_before": 3, "not_mirrored": 0,
           "exact_starts": 2,
           "partitions": 2}
    doc = {"command": "c", "date": "d", "commit": "x", "rate": 2000.0, "app_rate": 1500.0,
           "mm2_settings": {"a": "1"}, "rounds": {"steady": {"rows": [row], "notes": ["n"], "failover_s": 9.5,
                                                              "produced": 100}}}
    path = tmp_path / "FAILOVER.md"
    path.write_text("# before\n")
    report.write(path, doc)
    report.write(path, {**doc, "commit": "y"})
    text = path.read_text()
    assert text.startswith("# before\n") and text.count(report.BEGIN) == 1 and "code y" in text and "code x" not in text
    assert "| steady | kafka-mirror | failover.yml (offset map) | 8 | 12 | 0 | 0 | 0 | 3 / 0 | 0 | 2 of 2 |" in text


def test_only_the_streams_records_are_judged():
    from mirrorfaults.stream import ID, PAD, identity, key_of

    assert identity(key_of(9), ID.pack(1, 9, 42) + PAD) == (1, 42)
    assert identity(None, b"ambari_kafka.mirroring canary 1234-5678-90ab-cdef-0123456789ab") is None
    assert identity(key_of(8), ID.pack(1, 9, 42) + PAD) is None  # a key that is not the record's
