"""One call at a time beside the stream's loop, its outcome taken by the loop when it is done.

For the periodic topic refresh: its metadata and config reads took the loop 55-97 ms every 30 s (bench/README.md,
issue 13), a pause every record arriving meanwhile waited out. The thread is a daemon so that a stop waits for a read of a
cluster that does not answer (TIMEOUT_S per request) only as long as it chooses (mirror.REFRESH_STOP_WAIT_S)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

T = TypeVar("T")


class Beside(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._future: Future[T] | None = None

    @property
    def running(self) -> bool:
        """A call was started and its outcome not taken yet."""
        return self._future is not None

    def start(self, call: Callable[[], T]) -> None:
        if self._future is not None:
            raise RuntimeError(f"{self.name}: the last call's outcome was not taken")
        future: Future[T] = Future()
        self._future = future

        def run() -> None:
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to the loop, which decides (a MirrorError is logged, others stop)
                future.set_exception(exc)

        threading.Thread(target=run, name=self.name, daemon=True).start()

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` for the call to end, its outcome left to take; True when it has ended or none was
        started."""
        if self._future is None:
            return True
        try:
            self._future.exception(timeout)
        except FutureTimeout:
            return False
        return True

    def done(self) -> Future[T] | None:
        """The finished call's future, once; None while it runs or when none was started."""
        if self._future is None or not self._future.done():
            return None
        future, self._future = self._future, None
        return future
