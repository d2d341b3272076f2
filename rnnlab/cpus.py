"""How many CPU threads a run should use: the config's `threads` (auto or a number).

`auto` counts the cores this process may run on (its CPU affinity, then a cgroup v2
`cpu.max` quota) and takes off what the rest of the machine keeps busy at start (the
1-minute load average, scaled to those cores): on 2 cores with another training running,
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


def others_load(cores: int) -> float:
    """The machine's 1-minute load average as a share of our `cores` (0 where unknown)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0
    return load * cores / (os.cpu_count() or cores)


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
