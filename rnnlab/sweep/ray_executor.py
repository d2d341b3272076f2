"""Run sweep jobs as tasks on a Ray cluster: `rnnlab sweep ... --executor ray`.

Each run is one Ray task asking for `cpus_per_run` CPUs and `gpus_per_run` GPUs, so Ray
places it on a node that has them free (and sets CUDA_VISIBLE_DEVICES to the GPUs it
gave). On that node the task starts `rnnlab train` in a child process, the same command
as a local run, which writes its run folder into the sweep folder: a folder on a
filesystem every node shares. The driver (the `rnnlab sweep` process) gets each run's
outcome back and writes results.csv and the plots as runs finish.

Faults. A run that fails (non-zero exit) is an outcome like any other: Ray does not
retry it. A worker that dies (process killed, node lost) is retried by Ray up to
`max_retries` times; the retry first sets aside the dead attempt's half-written run
folder, and the dead attempt's training process died with its worker (`child.py`).
Ctrl-C cancels the tasks not yet started and interrupts the running ones, which stop
their runs with SIGINT as a local sweep does.

`ray` is imported only here, and only when a sweep runs on it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import site
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rnnlab.errors import RnnlabError
from rnnlab.runs import Run

from .jobs import (
    ExecutorSettings,
    Job,
    Outcome,
    continues,
    keep_attempt,
    outcome_of,
    resume_overrides,
    set_aside,
    signal_group,
    train_args,
)

INSTALL = "pip install 'rnnlab[ray]'"
GRACE_S = 30.0  # how long a stopped run has to checkpoint and exit before SIGKILL


def import_ray():
    try:
        import ray
    except ImportError:
        raise RnnlabError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def check_shared_path(path: Path, option: str) -> None:
    """The sweep folder is written by every node: refuse a path relative to this machine."""
    if not Path(path).is_absolute():
        raise RnnlabError(
            f"--executor ray needs {option} as an absolute path on a filesystem that every "
            f"node shares (got '{path}')"
        )


class RayExecutor:
    """Every job a Ray task at once; Ray runs as many as the cluster's CPUs/GPUs fit."""

    def __init__(self, settings: ExecutorSettings, grace_s: float = GRACE_S):
        self.settings, self.grace_s = settings, grace_s
        self._ray: Any = None  # the ray module once connected
        self._owns = False  # this process called ray.init, so it calls ray.shutdown
        self._pending: dict = {}  # ObjectRef -> Job, the tasks not done yet
        self._on_done: Callable[[Job, Outcome], None] = lambda job, outcome: None

    def run(self, jobs: list[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        self._on_done, s = on_done, self.settings
        try:
            ray = self._connect()
            task = ray.remote(run_task)
            resources = {"num_cpus": s.cpus_per_run, "num_gpus": s.gpus_per_run,
                         "max_retries": s.max_retries, "retry_exceptions": False}  # fmt: skip
            for job in jobs:
                ref = task.options(name=f"rnnlab {job.name}", **resources).remote(
                    job, s.cpus_per_run, s.gpus_per_run
                )
                self._pending[ref] = job
            while self._pending:
                done, _ = ray.wait(list(self._pending), num_returns=1, timeout=1.0)
                for ref in done:
                    job = self._pending.pop(ref)
                    on_done(job, self._outcome(ref))
        except BaseException:  # Ctrl-C (the sweep's stop gate), or a failed write
            self.stop()
            raise
        finally:
            self._disconnect()

    def stop(self) -> None:
        """Ctrl-C: cancel the tasks not started; interrupt the running ones (each stops its
        run with SIGINT, SIGKILL after grace_s) and report those as interrupted. Each job's
        stop file is written first: Ray can drop a cancel (seen in CI, where the run trained
        on for the whole 40 s the driver waited), the file reaches the task all the same."""
        ray, pending, self._pending = self._ray, self._pending, {}
        if ray is None or not pending:
            return
        for ref, job in pending.items():
            stop_file(job).touch()  # read by the task's wait loop (shared filesystem)
            ray.cancel(ref)  # force=False: a running task gets a KeyboardInterrupt
        done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=self.grace_s + 10)
        for ref in done:
            outcome, job = self._outcome(ref), pending[ref]
            if outcome.wall_s > 0 or job.run_dir.exists():  # it had started
                self._on_done(job, outcome)

    # --- the driver's side ---
    def _connect(self):
        ray = self._ray = import_ray()
        if not ray.is_initialized():
            address = self.settings.address
            stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
            handlers = {sig: signal.getsignal(sig) for sig in stops}  # ray.init replaces some
            try:
                ray.init(address=address, logging_level="warning", log_to_driver=False,
                         **({} if address else {"include_dashboard": False}))  # fmt: skip
            except Exception as err:  # ConnectionError, ValueError, RuntimeError...
                line = (str(err).strip().splitlines() or [type(err).__name__])[0]
                raise RnnlabError(
                    f"Ray: could not connect to {address or 'a cluster'}: {line}"
                ) from None
            self._owns = True
            for sig, handler in handlers.items():  # the sweep's stop gate takes them again
                _restore(sig, handler)
        print(_fit(ray.nodes(), self.settings), flush=True)
        return ray

    def _disconnect(self) -> None:
        if self._ray is not None and self._owns:
            self._ray.shutdown()
            self._owns = False

    def _outcome(self, ref) -> Outcome:
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return Outcome("interrupted", "the sweep was stopped", 0.0)
        except ray.exceptions.RayTaskError as err:  # the task itself raised, e.g. an OSError
            cause = err.cause if err.cause is not None else err
            return Outcome("failed", f"{type(cause).__name__}: {cause}".splitlines()[0], 0.0)
        except ray.exceptions.RayError as err:  # its worker or node died, retries used up
            tries = 1 + self.settings.max_retries
            return Outcome(
                "failed", f"its Ray worker died {tries} time(s) ({type(err).__name__})", 0.0
            )


def _fit(nodes: list[dict], s: ExecutorSettings) -> str:
    """'ray: 2 nodes, 32 CPUs, 4 GPUs; each run takes 4 CPUs and 1 GPU', or an error when
    no node could ever hold a run (Ray would wait for one forever)."""
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    if not any(
        r.get("CPU", 0) >= s.cpus_per_run and r.get("GPU", 0) >= s.gpus_per_run for r in alive
    ):
        sizes = ", ".join(f"{r.get('CPU', 0):g} CPUs + {r.get('GPU', 0):g} GPUs" for r in alive)
        raise RnnlabError(
            f"no node of the Ray cluster has {s.cpus_per_run} CPUs and {s.gpus_per_run:g} GPUs "
            f"for a run (nodes: {sizes or 'none'}); lower --cpus-per-run/--gpus-per-run"
        )
    cpus, gpus = (sum(r.get(k, 0) for r in alive) for k in ("CPU", "GPU"))
    return (f"ray: {len(alive)} node(s), {cpus:g} CPUs, {gpus:g} GPUs; each run takes "
            f"{s.cpus_per_run} CPU(s) and {s.gpus_per_run:g} GPU(s)")  # fmt: skip


def _restore(signum: int, handler) -> None:
    try:
        signal.signal(signum, handler)
    except (ValueError, TypeError):  # not the main thread, or a handler set outside Python
        pass


# --- the worker's side: a Ray task on some node ---
def run_task(job: Job, threads: int, gpus: float) -> Outcome:
    """One run: set aside a dead attempt's folder, train in a child process that dies with
    this worker, and return the outcome. Every attempt appends to the run's log."""
    started = time.time()
    summary = Run(job.run_dir).read_summary()
    if summary.get("status") == "finished":  # an earlier attempt's worker died after the end
        return Outcome("finished", "", summary.get("wall_s") or 0.0)
    job.log.parent.mkdir(parents=True, exist_ok=True)
    stop_file(job).unlink(missing_ok=True)  # a stopped sweep's, now resumed
    proc = None
    with open(job.log, "a") as log:
        log.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} on {socket.gethostname()}: "
                  f"ray worker pid {os.getpid()}\n")  # fmt: skip
        aside = None
        if job.attempts and not job.resume and continues(job.run_dir):  # a dead worker's run
            kept = keep_attempt(job.run_dir, job.attempts, job.log)
            overrides = resume_overrides(job.config, job.overrides, job.run_dir)
            job = dataclasses.replace(job, resume=True, overrides=overrides)
            log.write(f"== an earlier attempt's worker died; the run continues from its "
                      f"last.pt (that attempt's record: {kept})\n")  # fmt: skip
        elif job.attempts and not job.resume:
            aside = set_aside(job.run_dir, job.attempts)
        if aside:
            log.write(f"== an earlier attempt's worker died; its folder is now {aside}\n")
        log.flush()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rnnlab.sweep.child", str(os.getpid()), *train_args(job)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**child_env(threads, gpus), **job.env}, start_new_session=True,
            )  # fmt: skip
            log.write(f"== run pid {proc.pid}\n")
            log.flush()
            returncode, stopped = _wait(proc, stop_file(job)), False
        except KeyboardInterrupt:  # ray.cancel: stop the run as Ctrl-C stops a local one
            returncode, stopped = (_stop(proc) if proc else -signal.SIGINT), True
    outcome = outcome_of(returncode, job.log, time.time() - started, stopped)
    if outcome.error.startswith("== "):  # the run printed nothing: not our header as its error
        outcome.error = f"exit code {returncode}"
    return outcome


def stop_file(job: Job) -> Path:
    """The file the driver writes beside the run's log when the sweep is stopped."""
    return job.log.with_suffix(".stop")


def _wait(proc: subprocess.Popen, stop: Path) -> int:
    """proc.wait(), in steps: ray.cancel interrupts the task with `_thread.interrupt_main`,
    which Python acts on between steps but which does not wake a blocking waitpid(); the
    driver's stop file (`stop`) stops the run as the cancel does."""
    while True:
        try:
            return proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if stop.exists():
                raise KeyboardInterrupt from None


def _stop(proc: subprocess.Popen, grace_s: float = GRACE_S) -> int:
    """SIGINT to the run's process group, SIGKILL after grace_s; the exit status. A cancel
    that arrives while the run stops (after the stop file started it) is absorbed."""
    deadline, interrupted = time.monotonic() + grace_s, False
    while True:
        try:
            if proc.poll() is not None:
                return proc.returncode
            if not interrupted:
                signal_group(proc, signal.SIGINT)
                interrupted = True
            if time.monotonic() >= deadline:
                signal_group(proc, signal.SIGKILL)
                deadline = math.inf
            time.sleep(0.1)
        except KeyboardInterrupt:
            pass  # the cancel after the stop file: this run is stopping already


def child_env(threads: int, gpus: float) -> dict:
    """The run's environment: torch threads = its CPUs; no GPU unless Ray gave it one (Ray
    sets CUDA_VISIBLE_DEVICES for tasks with GPUs); this rnnlab first on the path."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if not gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""
    root = _package_root()
    if root:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _package_root() -> str | None:
    """The folder this worker imported rnnlab from, unless it is site-packages (an ordinary
    install, found anyway; putting site-packages first on PYTHONPATH could shadow stdlib)."""
    import rnnlab

    root = Path(rnnlab.__file__).resolve().parents[1]
    sites = [*getattr(site, "getsitepackages", list)(), site.getusersitepackages()]
    return None if any(root == Path(p).resolve() for p in sites) else str(root)
