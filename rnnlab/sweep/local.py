"""Run sweep jobs: each run is `python -m rnnlab train ... --run-dir DIR` in its own
process, so a crash or an out-of-memory kill fails that run and nothing else.

`LocalExecutor` keeps N of them going at once on this machine, dividing the CPU cores
(torch threads) and the GPUs (one each, round robin) between them. `RayExecutor`
(`ray_executor.py`) runs them as tasks on a Ray cluster instead. Both have `run(jobs,
on_done)` and `stop()`; `ExecutorSettings` says which one a sweep uses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .jobs import Job, Outcome, command, outcome_of, signal_group


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LocalExecutor:
    """Up to `workers` runs at once, each in its own process group."""

    def __init__(self, workers: int, gpus: int = 0):
        self.workers, self.gpus = workers, gpus
        self.threads = max(1, cpu_count() // workers)
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._grace_s = 30.0  # stop()'s, for the runs that start while it stops them

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
        try:  # a Ctrl-C while the jobs are submitted stops those already submitted
            futures = [pool.submit(work, job) for job in jobs]
            for future in futures:
                future.result()
        except BaseException:  # Ctrl-C, or a failed write (results.csv on a full disk)
            self.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()

    def _run_one(self, job: Job, slot: int) -> Outcome:
        if self._stopping:
            return Outcome("interrupted", "the sweep was stopped before this run started", 0.0)
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        env.update(job.env)
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
        job.log.parent.mkdir(parents=True, exist_ok=True)
        started = time.time()
        with open(job.log, "a" if job.resume else "w") as log:
            proc = subprocess.Popen(command(job), stdout=log, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
            with self._lock:  # stop() signals the runs it sees; this one, if it came after
                self._procs.add(proc)
                late = self._stopping
            if late:
                interrupt_then_kill(proc, time.time() + self._grace_s)
            returncode = proc.wait()
            with self._lock:
                self._procs.discard(proc)
        return outcome_of(returncode, job.log, time.time() - started, stopped=self._stopping)

    def stop(self, grace_s: float = 30.0) -> None:
        """Ctrl-C: SIGINT to every run (each checkpoints and exits), SIGKILL after grace_s."""
        with self._lock:
            self._stopping, self._grace_s = True, grace_s
            procs = list(self._procs)
        for proc in procs:
            signal_group(proc, signal.SIGINT)
        deadline = time.time() + grace_s
        for proc in procs:
            wait_or_kill(proc, deadline)


def interrupt_then_kill(proc: subprocess.Popen, deadline: float) -> None:
    """SIGINT to the run's process group, SIGKILL if it is still there at `deadline`."""
    signal_group(proc, signal.SIGINT)
    wait_or_kill(proc, deadline)


def wait_or_kill(proc: subprocess.Popen, deadline: float) -> None:
    try:
        proc.wait(timeout=max(0.1, deadline - time.time()))
    except subprocess.TimeoutExpired:
        signal_group(proc, signal.SIGKILL)
