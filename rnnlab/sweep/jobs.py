"""What the sweep executors share: a job (one run of a sweep), how it is started
(`python -m rnnlab train ... --run-dir DIR`, in a process group of its own), and how its
exit becomes an outcome. `local.py` and `ray_executor.py` both build on this."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rnnlab.config import load_config
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run
from rnnlab.runs.lock import holder, is_locked

INTERRUPTED_CODES = {130, 143, -signal.SIGINT, -signal.SIGTERM}


@dataclass
class Job:
    name: str  # the point's name, also its run folder's name
    config: Path  # the sweep's base.yaml
    overrides: list[str]  # the point's KEY=VALUE overrides
    run_dir: Path
    log: Path
    attempts: Optional[Path] = None  # where a dead attempt's run folder is set aside
    env: dict = field(default_factory=dict)  # extra environment of the run (a search's trial)
    resume: bool = False  # continue the interrupted run in run_dir (train --resume)


@dataclass
class ExecutorSettings:
    """How a sweep's runs are executed; saved in sweep.yaml so --resume runs them alike."""

    name: str = "local"  # local: processes on this machine | ray: tasks on a Ray cluster
    address: Optional[str] = None  # ray: auto | HOST:PORT | None (RAY_ADDRESS, else local)
    cpus_per_run: int = 1  # ray: CPUs (and torch threads) each run takes
    gpus_per_run: float = 0  # ray: GPUs each run takes (a fraction shares a GPU)
    max_retries: int = 3  # ray: reruns of a run whose worker died (not of one that failed)


@dataclass
class Outcome:
    status: str  # finished | failed | interrupted
    error: str  # one line: why it failed ("" when finished)
    wall_s: float


def command(job: Job) -> list[str]:
    return [sys.executable, "-m", "rnnlab", *train_args(job)]


def train_args(job: Job) -> list[str]:
    """`rnnlab` arguments that train the job's run (or continue it: `resume`)."""
    if job.resume:  # overrides: only what --resume may change (train.epochs)
        return ["train", "--resume", str(job.run_dir), *job.overrides, "--quiet"]
    return ["train", str(job.config), *job.overrides, "--run-dir", str(job.run_dir), "--quiet"]


def outcome_of(returncode: int, log: Path, wall_s: float, stopped: bool = False) -> Outcome:
    """How a run ended. `stopped`: the sweep stopped it (Ctrl-C), so any exit but 0 is
    `interrupted` and the run is redone on --resume: a run killed after the grace period,
    or one stopped while it was starting, has not failed on its own account."""
    if returncode == 0:
        return Outcome("finished", "", wall_s)
    error = last_error(log) or f"exit code {returncode}"
    if returncode in INTERRUPTED_CODES:
        return Outcome("interrupted", error, wall_s)
    if stopped:
        return Outcome(
            "interrupted", f"stopped by the sweep (exit code {returncode}): {error}", wall_s
        )
    return Outcome("failed", error, wall_s)


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
    if is_locked(run_dir):  # a live run (a sweep started elsewhere on this folder)
        raise RnnlabError(f"{run_dir} is still being written by process {holder(run_dir)}")
    attempts.mkdir(parents=True, exist_ok=True)
    k = 1
    while (attempts / f"{run_dir.name}-{k}").exists():
        k += 1
    shutil.move(str(run_dir), str(attempts / f"{run_dir.name}-{k}"))
    return attempts / f"{run_dir.name}-{k}"


def continues(run_dir: Path) -> bool:
    """Whether a run that did not finish continues from its last.pt (train --resume)
    instead of restarting: interrupted, failed or killed (kill -9 leaves it "running");
    a run that diverged would diverge again from the same last.pt, so it starts over."""
    run = Run(run_dir)
    return (
        run.checkpoint_path("last").is_file()
        and run.config_path.is_file()
        and run.read_summary().get("status") not in ("diverged", "finished")
    )


def resume_overrides(config: Path, overrides: list[str], run_dir: Path) -> list[str]:
    """What `train --resume` of a sweep's run is given: train.epochs as the sweep's config
    and the point's overrides now say (base.yaml may have been edited to shorten or extend
    the sweep), never fewer than the epochs the run has begun."""
    epochs = load_config(config, overrides).train.epochs
    run = Run(run_dir)
    begun = [(run.read_summary().get("at") or {}).get("epoch")]  # interrupted: where
    begun += [row.get("epoch") for row in run.read_metrics()]  # killed: the rows it wrote
    counts = [e for e in begun if isinstance(e, int) and not isinstance(e, bool)]
    return [f"train.epochs={max([epochs, *counts])}"]


def keep_attempt(run_dir: Path, attempts: Path, log: Path) -> Path:
    """Before a failed or killed run continues from its last.pt: a copy of its record
    (every file but the checkpoints, and its log) as attempts/<name>-<k>."""
    attempts.mkdir(parents=True, exist_ok=True)
    k = 1
    while (attempts / f"{run_dir.name}-{k}").exists():
        k += 1
    kept = attempts / f"{run_dir.name}-{k}"
    shutil.copytree(run_dir, kept, ignore=shutil.ignore_patterns("checkpoints", ".lock"))
    if log.is_file():
        shutil.copyfile(log, kept / "sweep.log")
    return kept


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal a run's process group (each run is started in a session of its own)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
