"""Pure arithmetic over samples: rates over a window, medians and spreads, latency percentiles."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Sample:
    t: float  # monotonic seconds
    count: int  # records on the target
    cpu_s: float  # CPU seconds of the tool's processes so far
    rss: int  # resident bytes of the tool's processes now
    brokers_cpu_s: float = 0.0  # CPU seconds of the lab's brokers so far
    busy_s: float = 0.0  # CPU seconds the whole machine has been busy so far


@dataclass(frozen=True)
class Window:
    records: int
    seconds: float
    cpu_s: float
    startup_s: float  # tool start to the first record seen on the target
    brokers_cpu_s: float = 0.0
    busy_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def mirror_window(samples: list[Sample], total: int, started: float) -> Window:
    """From the first sample that sees a record on the target to the first that sees all of them.

    Start-up (JVM, group join, topic discovery) is left out of the rate and reported as startup_s; the records
    already there at the first sample are left out with it.
    """
    first = next((s for s in samples if s.count > 0), None)
    last = next((s for s in samples if s.count >= total), None)
    if first is None or last is None:
        raise ValueError(f"the target never held all {total} records (last count {samples[-1].count if samples else 0})")
    if last.t <= first.t:
        raise ValueError("every record arrived between two samples: too few records to measure a rate")
    return Window(total - first.count, last.t - first.t, last.cpu_s - first.cpu_s, first.t - started,
                  last.brokers_cpu_s - first.brokers_cpu_s, last.busy_s - first.busy_s)


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        if not values:
            raise ValueError("no values")
        return cls(statistics.median(values), min(values), max(values), len(values))


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(Fraction(str(q)) * len(sorted_values) / 100))  # exact: 99.9% of 1000 is 999
    return sorted_values[rank - 1]
