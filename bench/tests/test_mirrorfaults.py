"""The fault suite's judging and report: pure."""
from __future__ import annotations

import struct

from mirrorfaults.report import markdown
from mirrorfaults.stream import ID, PAD, Tally, key_of


def record(p: int, k: int, seq: int, key: bytes | None = None):
    return (key_of(k) if key is None else key, ID.pack(p, k, seq) + PAD, [("fault-seq", struct.pack(">Q", seq))])


def test_tally_counts_missing_duplicates_order_and_malformed():
    tally = Tally({(1, s) for s in range(6)})
    for seq in (0, 1, 3, 1, 2, 5):  # 1 twice; 2 first arrives after 3; 4 never arrives
        tally.tick(*record(1, 9, seq))
    tally.tick(*record(1, 9, 5, key=b"other"))  # a wrong key
    tally.tick(b"x", b"short", None)  # not a record of the stream
    v = tally.verdict()
    assert (v.produced, v.received, v.missing, v.duplicates, v.order_violations, v.malformed) == (6, 8, 1, 2, 1, 2)


def test_a_re_mirrored_run_after_a_crash_is_duplicates_not_order_violations():
    tally = Tally({(0, s) for s in range(4)})
    for seq in (0, 1, 2, 1, 2, 3):  # rewound to the last commit after a kill
        tally.tick(*record(0, 8, seq))
    v = tally.verdict()
    assert (v.missing, v.duplicates, v.order_violations) == (0, 2, 0)


def test_report_rows_keep_the_command_that_produced_them():
    row = {"scenario": "kill-9", "tool": "kafka-mirror", "produced": 1000, "received": 1010, "missing": 0,
           "duplicates": 10, "order_violations": 0, "malformed": 0, "max_lag": 50, "recover_s": None, "restarts": 5,
           "exit_codes": [-9, 0], "notes": ["n"], "command": "python -m mirrorfaults --scenarios kill-9",
           "date": "2026-12-02"}
    text = markdown([row], "2 cores", 2000)
    assert "python -m mirrorfaults --scenarios kill-9    # 2026-12-02, code at not recorded" in text
    assert "| kill-9 | kafka-mirror | 1,000 | **0** | 10 | 0 | 50 | not recovered | 1 | -9, 0 | - |" in text
    assert "- kill-9, kafka-mirror: n" in text


def test_make_tests_short_list_is_issue_15s_scenarios_1_3_7_each_a_lighter_run_of_the_full_suites():
    from mirrorfaults.scenarios import ALL, SHORT

    assert [s.name for s in SHORT] == ["secondary-down-long", "rolling-primary", "rebalance"]
    full = {s.name: s for s in ALL}
    for short in SHORT:
        assert type(short) is type(full[short.name]) and short.tools == full[short.name].tools


def test_a_connect_task_killed_for_good_is_noted_with_the_run():
    from mirrorfaults.runner import log_notes

    line = ("[2026-12-03 07:25:01,000] ERROR WorkerSourceTask{id=MirrorSourceConnector-1} Task threw an uncaught and "
            "unrecoverable exception. Task is being killed and will not recover until manually restarted "
            "(org.apache.kafka.connect.runtime.WorkerTask)\n")
    assert log_notes("all fine\n") == []
    assert log_notes(line * 2)[0].startswith("2 Connect task(s) killed after a failed send, never restarted")
