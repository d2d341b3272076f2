"""How many CPU threads a run should use: the config's `threads` (auto or a number).

`auto` counts the cores this process may run on (its CPU affinity, then a cgroup v2
`cpu.max` quota) and takes off what the rest of the machine keeps busy at start (its
cores' CPU time over a quarter of a second, scaled to those cores; the 1-minute load
average where /proc/stat is missing): on 2 cores with another training running,
torch's default of 2 threads makes OpenMP spin for a core the other job holds (measured
~10x slower than 1 thread; scripts/threads_under_load.py). An explicit OMP_NUM_THREADS
(what a sweep gives each worker) wins over the estimate. Torch-free: the CLI decides
before torch is imported, so it can also set OMP_WAIT_POLICY=PASSIVE on a busy machine
(OpenMP reads it once, when torch loads its runtime).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


@dataclass(frozen=True)
class ThreadChoice:
    threads: int  # torch's intra-op threads
    why: str  # for the start-up line: 'auto: 2 usable cores, 1.0 busy with other work'
    busy: bool = False  # others keep some of our cores busy: let idle threads sleep


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> tuple[int, str]:
    """Cores this process may run on, and where the number comes from."""
    try:
        cores, source = len(os.sched_getaffinity(0)), "affinity"
    except (AttributeError, OSError):  # macOS, Windows
        cores, source = os.cpu_count() or 1, "cpu_count"
    quota = cgroup_quota(cpu_max)
    if quota is not None and quota < cores:
        return max(1, math.ceil(quota)), "cgroup cpu.max"
    return cores, source


def cgroup_quota(cpu_max: Path = CGROUP_CPU_MAX) -> float | None:
    """The cgroup v2 CPU quota in cores ('150000 100000' -> 1.5); None when unlimited."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


PROC_STAT = Path("/proc/stat")
SAMPLE_S = 0.25  # how long auto watches the machine's CPU time before it chooses


def others_load(cores: int, stat: Path = PROC_STAT) -> float:
    """Busy cores of the rest of the machine now, as a share of our `cores`: the CPU time
    of every core over SAMPLE_S (this process waits meanwhile), else the 1-minute load
    average, which lags by a minute (0 where neither is known)."""
    busy = busy_cores(stat)
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    return busy * cores / (os.cpu_count() or cores)


def busy_cores(stat: Path = PROC_STAT) -> float | None:
    """Cores busy over the next SAMPLE_S seconds, from /proc/stat's 'cpu' line; None
    where there is no /proc/stat."""
    first = _cpu_times(stat)
    if first is None:
        return None
    time.sleep(SAMPLE_S)
    second = _cpu_times(stat)
    if second is None:
        return None
    total = sum(second) - sum(first)
    idle = (second[3] + second[4]) - (first[3] + first[4])  # idle + iowait
    return (total - idle) / total * (os.cpu_count() or 1) if total > 0 else 0.0


def _cpu_times(stat: Path) -> list[int] | None:
    try:
        with open(stat, encoding="ascii") as f:
            fields = f.readline().split()
        return [int(v) for v in fields[1:9]] if fields and fields[0] == "cpu" else None
    except (OSError, ValueError):
        return None


def choose_threads(
    setting: int | str, env: dict | None = None, cores_load: tuple[int, float] | None = None
) -> ThreadChoice:
    """The thread count for `threads: <setting>`; `cores_load` replaces the machine's
    (usable cores, load on them) for tests."""
    environ: MutableMapping[str, str] = os.environ if env is None else env
    if setting != "auto":
        return ThreadChoice(int(setting), "threads setting")
    given = str(environ.get("OMP_NUM_THREADS", "")).strip()
    if given.isdigit() and int(given) > 0:
        return ThreadChoice(int(given), f"auto: OMP_NUM_THREADS={given}")
    if cores_load is None:
        cores, source = usable_cores()
        load = others_load(cores)
    else:
        (cores, load), source = cores_load, "given"
    free = max(1, min(cores, math.floor(cores - load + 0.5)))  # cores others leave us
    busy = load >= 0.5
    note = f", load {load:.1f} from other work" if load >= 0.05 else ", machine idle"
    return ThreadChoice(free, f"auto: {cores} usable cores ({source}){note}", busy and cores > 1)


def prepare_environment(choice: ThreadChoice, env: dict | None = None) -> bool:
    """Before torch loads: on a busy machine, OpenMP's idle threads sleep instead of spinning
    (OMP_WAIT_POLICY=PASSIVE) unless the user set a policy. Returns whether it set it."""
    environ: MutableMapping[str, str] = os.environ if env is None else env
    if "torch" in sys.modules:  # OpenMP has read its settings already
        return False
    if not choice.busy or choice.threads < 2 or "OMP_WAIT_POLICY" in environ:
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def parse_threads(value: str, option: str = "--threads") -> int | str:
    """A --threads value: auto or a positive integer (RnnlabError otherwise)."""
    from rnnlab.errors import RnnlabError

    text = value.strip().lower()
    if text == "auto":
        return "auto"
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise RnnlabError(f"{option} takes auto or a number of threads >= 1, got {value!r}")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Snapshot:
    """The machine's CPU ticks and this process's own CPU seconds at one moment."""

    ticks: list[int] | None
    own_s: float
    wall_s: float


def snapshot(stat: Path = PROC_STAT) -> Snapshot:
    times = os.times()
    return Snapshot(_cpu_times(stat), times.user + times.system, time.monotonic())


def others_busy(before: Snapshot, after: Snapshot) -> float | None:
    """Cores the rest of the machine kept busy between two snapshots: every core's busy
    time less this process's own (all its threads); None where /proc/stat is missing."""
    if before.ticks is None or after.ticks is None or after.wall_s <= before.wall_s:
        return None
    total = sum(after.ticks) - sum(before.ticks)
    idle = (after.ticks[3] + after.ticks[4]) - (before.ticks[3] + before.ticks[4])
    if total <= 0:
        return None
    busy = (total - idle) / total * (os.cpu_count() or 1)  # cores, ours included
    own = (after.own_s - before.own_s) / (after.wall_s - before.wall_s)
    return max(0.0, busy - own)
