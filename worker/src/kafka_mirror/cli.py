"""kafka-mirror: N stream processes in one consumer group, /metrics and /health, clean exit codes.

Exit codes: 0 stopped by SIGTERM/SIGINT after a final commit; 1 error; 2 configuration error; 3 a record could not
be delivered (abort.on.send.failure=true); 128 + N a stream was killed by signal N (139: it crashed).
"""
from __future__ import annotations

import faulthandler
import hashlib
import logging
import multiprocessing
import os
import signal
import socket
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
    faulthandler.enable()  # a crash in librdkafka or the binding leaves the Python stack in the log
    sys.exit(run_stream(cfg, index, health_dir, log_format))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["offsets"]:  # kafka-mirror offsets translate ...: a tool, not the service
        sys.exit(offsets_command(argv[1:]))
    if argv[:1] == ["check"]:  # kafka-mirror check --config worker.yaml: what the service would refuse, at once
        sys.exit(check_command(argv[1:]))
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


def check_command(argv: list[str]) -> int:
    """The service's own configuration checks (exit 2 and the reason on stderr), without starting anything or
    reaching a cluster: for the role to run before it restarts the service. Prints no property's value."""
    try:
        cfg = config_mod.load(argv)
    except ConfigError as exc:
        print(f"kafka-mirror: {exc}", file=sys.stderr)
        return exc.exit_code
    for warning in cfg.warnings:
        print(f"kafka-mirror: warning: {warning}", file=sys.stderr)
    print(f"kafka-mirror: configuration accepted: {cfg.streams} stream(s), include={cfg.topics.include!r}, "
          f"exactly_once={str(cfg.exactly_once).lower()}")
    return 0


def offsets_command(argv: list[str]) -> int:
    if argv[:1] != ["translate"]:
        print("usage: kafka-mirror offsets translate --config worker.yaml --group GROUP [--json]", file=sys.stderr)
        return 2
    from kafka_mirror.translate import main as translate_main

    setup("plain", "translate")
    logging.getLogger().setLevel(logging.WARNING)  # stdout is the answer; stderr only for what went wrong
    return translate_main(argv[1:])


def supervise(cfg: config_mod.MirrorConfig) -> int:
    try:
        guard = members_guard(cfg)  # kept open while the streams run
    except ConfigError as exc:
        log.error("%s", exc)
        return exc.exit_code
    state = Path(os.environ.get("STATE_DIRECTORY") or os.environ.get("RUNTIME_DIRECTORY")
                 or tempfile.mkdtemp(prefix="kafka-mirror-")) / "metrics"
    metrics.prepare_dir(state)
    ctx = multiprocessing.get_context("spawn")  # librdkafka clients must never cross a fork
    procs = [ctx.Process(target=_stream_main, args=(cfg, i, str(state), cfg.log_format), name=f"stream-{i}")
             for i in range(cfg.streams)]
    server = None
    if cfg.metrics_port:  # bound before any stream starts: a taken port is a configuration error, not a half-start
        try:
            server = metrics.serve(cfg.metrics_host, cfg.metrics_port, state, cfg.streams, cfg.commit_interval_s,
                                   lambda: [p.is_alive() for p in procs])
        except OSError as exc:
            log.error("cannot serve /metrics and /health on %s:%d: %s; choose another --metrics.port (0: off) or "
                      "--metrics.host", cfg.metrics_host, cfg.metrics_port, exc.strerror or exc)
            return ConfigError.exit_code
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
    if server is not None:
        threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
        log.info("metrics on http://%s:%d/metrics, health on /health", cfg.metrics_host, cfg.metrics_port)
    code = _wait(procs, stopping)
    if server is not None:
        server.shutdown()
    if guard is not None:
        guard.close()
    return code


def members_guard(cfg: config_mod.MirrorConfig) -> socket.socket | None:
    """Static member ids are the worker's identity: a second worker on this host with the same group and
    instance id would fence the running one (FENCED_INSTANCE_ID is fatal to it; with exactly-once its producers too,
    through the shared transactional ids, even when its topics and so its member ids differ). The newcomer refuses
    instead.

    An abstract Unix socket is held while the worker runs: the kernel frees it when the process dies, even by
    kill -9, so a restarted worker is never locked out. Workers on other hosts need their own instance ids.
    """
    if not cfg.instance_id:
        return None
    key = f"{cfg.consumer['group.id']}|{cfg.instance_id}"  # not the servers: one cluster has many spellings
    name = b"\0kafka-mirror-" + hashlib.sha256(key.encode()).hexdigest()[:32].encode()
    guard = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        guard.bind(name)
    except OSError:
        guard.close()
        raise ConfigError(f"another kafka-mirror on this host already runs group '{cfg.consumer['group.id']}' with "
                          f"instance.id '{cfg.instance_id}'; with the same static member ids this one would fence "
                          "it. Stop the other one, or give this one its own --instance.id") from None
    return guard


def _wait(procs: list, stopping: dict) -> int:
    """Until every stream exits; when one fails, stop the others (systemd restarts the service)."""
    failed = 0
    deadline = None
    killed: set[str] = set()  # streams the supervisor killed itself: already logged
    while True:
        alive = [p for p in procs if p.is_alive()]
        for p in procs:
            if not p.is_alive() and _failed(p, stopping) and not failed and p.name not in killed:
                failed = exit_code(p.exitcode)
                log.error("%s %s; stopping the other streams", p.name, _how(p.exitcode))
                for other in alive:
                    if other.pid:
                        os.kill(other.pid, signal.SIGTERM)
        if not alive:
            break
        if (stopping["flag"] or failed) and deadline is None:
            deadline = time.monotonic() + STOP_GRACE_S
        if deadline is not None and time.monotonic() > deadline:
            for p in alive:
                log.error("%s did not stop within %.0fs; killing it", p.name, STOP_GRACE_S)
                killed.add(p.name)
                p.kill()
        time.sleep(0.2)
    return failed or next((exit_code(p.exitcode) for p in procs if _failed(p, stopping)), 0)


def _failed(proc, stopping: dict) -> bool:
    """A stream's exit is a failure, except when our own SIGTERM reached it still starting, before its handler was
    in place (installed before any client is created): it had read nothing, so that is a clean stop."""
    return bool(proc.exitcode) and not (stopping["flag"] and proc.exitcode == -signal.SIGTERM)


def exit_code(stream_code: int) -> int:
    """A stream's exit code as the worker's: a stream killed by a signal as a shell reports it (128 + signal)."""
    return 128 - stream_code if stream_code < 0 else stream_code


def _how(stream_code: int) -> str:
    if stream_code >= 0:
        return f"exited with code {stream_code}"
    try:
        name = signal.Signals(-stream_code).name
    except ValueError:  # a real-time signal has no name
        name = f"signal {-stream_code}"
    return f"was killed by {name}"  # a crash: faulthandler logged its Python stack just before


if __name__ == "__main__":
    main()
