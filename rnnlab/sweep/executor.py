"""Run sweep jobs: each run is `python -m rnnlab train ... --run-dir DIR` in its own
process, so a crash or an out-of-memory kill fails that run and nothing else.

`LocalExecutor` keeps N of them going at once on this machine, dividing the CPU cores
(torch threads) and the GPUs (one each, round robin) between them. `RayExecutor`
(`ray_executor.py`) runs them as tasks on a Ray cluster instead. Both have `run(jobs,
on_done)` and `stop()`; `ExecutorSettings` says which one a sweep uses.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from rnnlab.errors import RnnlabError

INTERRUPTED_CODES = {130, 143, -signal.SIGINT, -signal.SIGTERM}


@dataclass
class Job:
    name: str  # the point's name, also its run folder's name
    config: Path  # the sweep's base.yaml
    overrides: list[str]  # the point's KEY=VALUE overrides
    run_dir: Path
    log: Path
    attempts: Optional[Path] = None  # where a dead attempt's run folder is set aside


@dataclass
class ExecutorSettings:
    """How a sweep's runs are executed; saved in sweep.yaml so --resume runs them alike."""

    name: str = "local"  # local: processes on this machine | ray: tasks on a Ray cluster
    address: Optional[str] = None  # ray: auto | HOST:PORT | None (RAY_ADDRESS, else local)
    cpus_per_run: int = 1  # ray: CPUs (and torch threads) each run takes
    gpus_per_run: float = 0  # ray: GPUs each run takes (a fraction shares a GPU)
    max_retries: int = 3  # ray: reruns of a run whose worker died (not of one that failed)


def make_executor(settings: ExecutorSettings, workers: int, gpus: int = 0):
    if settings.name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(settings)
    return LocalExecutor(workers, gpus)


@dataclass
class Outcome:
    status: str  # finished | failed | interrupted
    error: str  # one line: why it failed ("" when finished)
    wall_s: float


def command(job: Job) -> list[str]:
    return [sys.executable, "-m", "rnnlab", *train_args(job)]


def train_args(job: Job) -> list[str]:
    """`rnnlab` arguments that train the job's run."""
    return ["train", str(job.config), *job.overrides, "--run-dir", str(job.run_dir), "--quiet"]


def outcome_of(returncode: int, log: Path, wall_s: float) -> Outcome:
    if returncode == 0:
        return Outcome("finished", "", wall_s)
    status = "interrupted" if returncode in INTERRUPTED_CODES else "failed"
    return Outcome(status, last_error(log) or f"exit code {returncode}", wall_s)


def last_error(log: Path) -> str:
    """The run's one-line error: its `error: ...` line, else the last line it printed."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if ln.startswith("error: ")]
    line = errors[-1][len("error: ") :] if errors else (lines[-1] if lines else "")
    return line[:300]


def set_aside(run_dir: Path, attempts: Path) -> Optional[Path]:
    """Move an unfinished run's folder to attempts/<name>-<k> so the run can be redone."""
    if not run_dir.exists():
        return None
    attempts.mkdir(parents=True, exist_ok=True)
    k = 1
    while (attempts / f"{run_dir.name}-{k}").exists():
        k += 1
    shutil.move(str(run_dir), str(attempts / f"{run_dir.name}-{k}"))
    return attempts / f"{run_dir.name}-{k}"


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


class LocalExecutor:
    """Up to `workers` runs at once, each in its own process group."""

    def __init__(self, workers: int, gpus: int = 0):
        self.workers, self.gpus = workers, gpus
        self.threads = max(1, cpu_count() // workers)
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopping = False

    def run(self, jobs: list[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        slots = list(range(self.workers))

        def work(job: Job) -> None:
            with self._lock:
                slot = slots.pop()
            try:
                on_done(job, self._run_one(job, slot))
            finally:
                with self._lock:
                    slots.append(slot)

        pool = ThreadPoolExecutor(self.workers)
        futures = [pool.submit(work, job) for job in jobs]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            self.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()

    def _run_one(self, job: Job, slot: int) -> Outcome:
        if self._stopping:
            return Outcome("interrupted", "the sweep was stopped before this run started", 0.0)
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
        job.log.parent.mkdir(parents=True, exist_ok=True)
        started = time.time()
        with open(job.log, "w") as log:
            proc = subprocess.Popen(command(job), stdout=log, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
            with self._lock:
                self._procs.add(proc)
            returncode = proc.wait()
            with self._lock:
                self._procs.discard(proc)
        return outcome_of(returncode, job.log, time.time() - started)

    def stop(self, grace_s: float = 30.0) -> None:
        """Ctrl-C: SIGINT to every run (each checkpoints and exits), SIGKILL after grace_s."""
        self._stopping = True
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            signal_group(proc, signal.SIGINT)
        deadline = time.time() + grace_s
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                signal_group(proc, signal.SIGKILL)


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal a run's process group (each run is started in a session of its own)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def choose_executor(stored: Optional[ExecutorSettings], given: dict, workers_given: bool,
                    sweep_path: Path) -> ExecutorSettings:  # fmt: skip
    """The executor a sweep runs with: the options given, over what sweep.yaml stored (on
    --resume), over the defaults. Checks the options and, for Ray, that it is installed and
    that the sweep folder (`sweep_path`: --out or --resume) is absolute."""
    settings = stored or ExecutorSettings()
    given = {k: v for k, v in given.items() if v is not None}
    for key, value in given.items():
        setattr(settings, key, value)
    if settings.name not in ("local", "ray"):
        raise RnnlabError(f"--executor must be local or ray, got '{settings.name}'")
    ray_only = [f"--{k.replace('_', '-')}" for k in given if k != "name"]
    if settings.name == "local" and ray_only:
        raise RnnlabError(f"{', '.join(ray_only)}: only with --executor ray")
    if settings.name == "local":
        return settings
    if workers_given:
        raise RnnlabError(
            "--workers is for --executor local; on Ray as many runs go at once as the "
            "cluster's CPUs and GPUs fit (--cpus-per-run, --gpus-per-run)"
        )
    for key, low in (("cpus_per_run", 1), ("gpus_per_run", 0), ("max_retries", 0)):
        if getattr(settings, key) < low:
            name = "--" + key.replace("_", "-")
            raise RnnlabError(f"{name} must be >= {low}, got {getattr(settings, key)}")
    from .ray_executor import check_shared_path, import_ray

    check_shared_path(sweep_path, "--resume" if stored else "--out")
    import_ray()
    return settings
