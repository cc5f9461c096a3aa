"""CPU time and resident memory of a process and all its descendants, read from /proc."""
from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
IDLE_S = 2.0  # the machine sampled this long before a tool starts: its fixed share (brokers' timers, the lab's API)


def parse_stat(text: str) -> tuple[int, int, int]:
    """(ppid, utime+stime ticks, rss pages) from a /proc/<pid>/stat line; the name may hold spaces and ')'."""
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state) of proc(5): ppid is 4, utime 14, stime 15, rss 24
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21])


def _stats(proc: Path) -> dict[int, tuple[int, int, int]]:
    out = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = parse_stat((entry / "stat").read_text())
            except (OSError, IndexError, ValueError):
                continue  # exited while we looked
    return out


def descendants(root: int, parents: dict[int, int]) -> set[int]:
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return tree


def tree(root: int, proc: Path = Path("/proc")) -> tuple[set[int], dict[int, tuple[int, int, int]]]:
    """The pids of `root` and its descendants now, and every process's (ppid, CPU ticks, RSS pages)."""
    stats = _stats(proc)
    return descendants(root, {pid: s[0] for pid, s in stats.items()}), stats


class TreeSampler:
    """Cumulative CPU seconds (processes that exited keep what they used) and current RSS of a process tree."""

    def __init__(self, root: int, proc: Path = Path("/proc")) -> None:
        self.root = root
        self.proc = proc
        self._cpu_ticks: dict[int, int] = {}
        self.peak_rss = 0

    def sample(self) -> tuple[float, int]:
        pids, stats = tree(self.root, self.proc)
        rss = 0
        for pid in pids & stats.keys():
            _, ticks, pages = stats[pid]
            self._cpu_ticks[pid] = ticks
            rss += pages * PAGE
        self.peak_rss = max(self.peak_rss, rss)
        return sum(self._cpu_ticks.values()) / CLK_TCK, rss


def busy_s(proc: Path = Path("/proc")) -> float:
    """CPU seconds the whole machine has been busy since boot, all cores (proc(5): /proc/stat's cpu line; idle and
    iowait left out, guest time already counted in user)."""
    fields = (proc / "stat").read_text().split("\n", 1)[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def cpu_s(pids: list[int], proc: Path = Path("/proc")) -> float:
    """CPU seconds of these processes (all their threads) so far; a process that is gone counts 0."""
    total = 0
    for pid in pids:
        try:
            total += parse_stat((proc / str(pid) / "stat").read_text())[1]
        except (OSError, IndexError, ValueError):
            continue
    return total / CLK_TCK
