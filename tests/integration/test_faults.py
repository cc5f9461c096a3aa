"""The short fault suite (make test): kafka-mirror under the faults that broke its promise, on the lab's real
brokers and with the lab's real controls. The whole suite, side by side with MirrorMaker 2 and 1: make faults
(docs/RELIABILITY.md)."""
from __future__ import annotations

import pytest

from kafka_lab.runtime import locate
from mirrorbench.tools import TOOLS
from mirrorfaults import controls, runner
from mirrorfaults.scenarios import SHORT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fault_lab(reachable, tmp_path_factory):
    return controls.lab(), locate(), tmp_path_factory.mktemp("faults"), reachable.primary


def restart_spans(primary, requests: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, host) of the tasks of the requests, each one broker's restart."""
    spans = []
    for request_id in requests:
        tasks = primary.client.get(f"clusters/{primary.name}/requests/{request_id}/tasks?fields=Tasks/*")["items"]
        assert [(t["Tasks"]["role"], t["Tasks"]["custom_command_name"]) for t in tasks] == [("KAFKA_BROKER", "RESTART")]
        task = tasks[0]["Tasks"]
        spans.append((task["start_time"], task["end_time"], task["host_name"]))
    return sorted(spans)


@pytest.mark.parametrize("scenario", SHORT, ids=[s.name for s in SHORT])
def test_no_record_is_lost_under_the_fault(fault_lab, scenario):
    lab, runtime, workdir, primary = fault_lab
    brokers = len(primary.spec.hosts())
    name = scenario.name
    result = runner.run(lab, runner.Local(TOOLS["kafka-mirror"]), scenario, workdir / name, 2000.0, runtime)
    summary = result.to_json()
    assert result.produced > 20_000, summary  # the stream flowed through the whole fault
    assert result.missing == 0, summary
    assert result.malformed == 0 and result.order_violations == 0, summary
    if name == "secondary-down-long":  # the delivery timeout passed: the stream stopped (exit 3) and was restarted
        assert 3 in result.exit_codes, summary
    if name == "rolling-primary":  # every broker restarted under the stream; the mirror rode it out
        assert result.exit_codes == [0], summary
        assert any(f"{brokers} broker(s) restarted" in n for n in result.notes), summary
        # One request a broker through ambari_service, never two brokers down at once, the batch separation kept.
        assert len(result.requests) == brokers, summary
        spans = restart_spans(primary, result.requests)
        assert [host for _, _, host in spans] == sorted(h.fqdn for h in primary.spec.hosts())
        for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
            assert start >= end + controls.BATCH_SEPARATION_S * 1000, spans
    if name == "rebalance":  # members came and went; the running worker never exited, a same-id twin was refused
        assert result.exit_codes == [0], summary
        assert any("refused (exit 2)" in n for n in result.notes), summary
        assert "second process 1: exits [0]" in result.notes, summary  # it left cleanly, as it joined
