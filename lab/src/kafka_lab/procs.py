"""Process liveness that a non-reaping init cannot fool: a zombie counts as dead."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it if it is ours
        except ChildProcessError:
            pass
        return False
    return True


def pid_from(path: Path) -> int | None:
    """The pid in a pid file, if that process is alive."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def terminate(pid: int, grace_s: float) -> bool:
    """SIGTERM, then SIGKILL once `grace_s` has passed; returns whether it had to be killed. Waits until gone."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    killed = alive(pid)
    if killed:
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
    return killed
