"""Beside: the periodic topic refresh's reads on a thread, their outcome taken by the loop."""
from __future__ import annotations

import threading
import time

import pytest

from kafka_mirror.beside import Beside
from kafka_mirror.errors import MirrorError


def test_the_outcome_is_taken_once_and_an_error_reaches_the_loop_as_raised():
    b: Beside[int] = Beside("t")
    b.start(lambda: 7)
    assert b.wait(5)
    done = b.done()
    assert done is not None and done.result() == 7 and b.done() is None and not b.running

    def unreachable() -> int:
        raise MirrorError("cannot read the source cluster's metadata")

    b.start(unreachable)
    assert b.wait(5)
    done = b.done()
    assert done is not None
    with pytest.raises(MirrorError, match="source cluster"):
        done.result()


def test_one_call_at_a_time_and_a_stop_never_waits_for_one_that_hangs():
    b: Beside[bool] = Beside("t")
    hang = threading.Event()
    started = time.monotonic()
    b.start(lambda: hang.wait(30))  # a cluster that does not answer: up to TIMEOUT_S per request
    assert time.monotonic() - started < 1 and b.running and b.done() is None
    with pytest.raises(RuntimeError, match="not taken"):
        b.start(lambda: True)
    assert not b.wait(0.1)  # a bounded wait for it gives up
    hung = [t for t in threading.enumerate() if t.name == "t"]
    assert hung and all(t.daemon for t in hung)  # the process exits without it
    hang.set()
    assert b.wait(5) and b.done() is not None and not b.running
