"""kafka-mirror: N stream processes in one consumer group, /metrics and /health, clean exit codes.

Exit codes: 0 stopped by SIGTERM/SIGINT after a final commit; 1 error; 2 configuration error; 3 a record could not
be delivered (abort.on.send.failure=true).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from kafka_mirror import config as config_mod
from kafka_mirror import metrics
from kafka_mirror.errors import ConfigError
from kafka_mirror.logs import setup
from kafka_mirror.mirror import run_stream
from kafka_mirror.properties import masked

log = logging.getLogger("kafka_mirror")
STOP_GRACE_S = 90.0


def _stream_main(cfg, index, health_dir, log_format):  # top-level so that the spawn context can pickle it
    sys.exit(run_stream(cfg, index, health_dir, log_format))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    setup("plain", "supervisor")  # until the configuration says otherwise
    try:
        cfg = config_mod.load(argv)
    except ConfigError as exc:
        log.error("%s", exc)
        sys.exit(exc.exit_code)
    setup(cfg.log_format, "supervisor")
    for warning in cfg.warnings:
        log.warning("%s", warning)
    log.info("starting %d stream(s): include=%r exclude=%r commit every %.1fs; consumer %s; producer %s",
             cfg.streams, cfg.topics.include, cfg.topics.exclude, cfg.commit_interval_s,
             masked(cfg.consumer), masked(cfg.producer))
    sys.exit(supervise(cfg))


def supervise(cfg: config_mod.MirrorConfig) -> int:
    state = Path(os.environ.get("STATE_DIRECTORY") or os.environ.get("RUNTIME_DIRECTORY")
                 or tempfile.mkdtemp(prefix="kafka-mirror-")) / "metrics"
    metrics.prepare_dir(state)
    ctx = multiprocessing.get_context("spawn")  # librdkafka clients must never cross a fork
    procs = [ctx.Process(target=_stream_main, args=(cfg, i, str(state), cfg.log_format), name=f"stream-{i}")
             for i in range(cfg.streams)]
    stopping = {"flag": False}

    def stop(signum: int, _frame: object) -> None:
        stopping["flag"] = True
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.start()
    server = None
    if cfg.metrics_port:
        server = metrics.serve(cfg.metrics_host, cfg.metrics_port, state, cfg.streams, cfg.commit_interval_s,
                               lambda: [p.is_alive() for p in procs])
        threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
        log.info("metrics on http://%s:%d/metrics, health on /health", cfg.metrics_host, cfg.metrics_port)
    code = _wait(procs, stopping)
    if server is not None:
        server.shutdown()
    return code


def _wait(procs: list, stopping: dict) -> int:
    """Until every stream exits; when one fails, stop the others (systemd restarts the service)."""
    failed = 0
    deadline = None
    while any(p.is_alive() for p in procs):
        for p in procs:
            if not p.is_alive() and p.exitcode and not failed:
                failed = p.exitcode
                log.error("%s exited with code %d; stopping the other streams", p.name, p.exitcode)
                for other in procs:
                    if other.is_alive() and other.pid:
                        os.kill(other.pid, signal.SIGTERM)
        if (stopping["flag"] or failed) and deadline is None:
            deadline = time.monotonic() + STOP_GRACE_S
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.is_alive():
                    log.error("%s did not stop within %.0fs; killing it", p.name, STOP_GRACE_S)
                    p.kill()
        time.sleep(0.2)
    codes = [p.exitcode for p in procs]
    return failed or next((c for c in codes if c), 0)


if __name__ == "__main__":
    main()
