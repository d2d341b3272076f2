"""Setting a training run up and seeing it to the end: `train` (a new run folder) or
`rnnlab.training.resume` (a stopped one) build a `Session`, `run_to_end` fits it, tests
the best checkpoint and writes summary.json whatever happens."""

from __future__ import annotations

import platform
import signal
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import rnnlab
from rnnlab.config import Config, dump_config
from rnnlab.device import (
    describe,
    fits_in_memory,
    flush_denormals,
    peak_memory_mb,
    pick_device,
    reuse_cpu_heap,
    set_deterministic,
    set_threads,
)
from rnnlab.errors import RnnlabError
from rnnlab.models.compile import resolve_compile, set_compiled
from rnnlab.runs import Run
from rnnlab.runs.fileio import StorageError, write_atomic
from rnnlab.runs.lock import locked
from rnnlab.runs.progress import Reporter, closing_lines, format_row
from rnnlab.tasks import Task, build_task
from rnnlab.training.callbacks import make_callbacks
from rnnlab.training.checkpoint import TrainState
from rnnlab.training.interrupt import Interrupted, shielded
from rnnlab.training.loop import Session, fit
from rnnlab.training.memory import check_fits
from rnnlab.training.nanguard import Diverged
from rnnlab.training.optim import build_optimizer
from rnnlab.training.precision import Precision, check_precision, resolve_precision


def train(cfg: Config, out: Path, reporter: Reporter, run_dir: Path | None = None) -> Run:
    """Train `cfg` in a new run folder under `out` (or exactly at `run_dir`); return the run."""
    session = prepare(cfg, reporter)  # every check: nothing is written before this passes
    run = session.run = Run.create_at(run_dir) if run_dir else Run.create(out, cfg.name)
    with locked(run.dir):  # one writer per run folder (a --resume of it must wait)
        with shielded():  # a signal now stops the run after its first step, with last.pt
            write_atomic(run.config_path, dump_config(cfg))
            session.task.save_artifacts(run)
            reporter.message(f"run: {run.dir}")
        return run_to_end(session, reporter, TrainState())


def prepare(cfg: Config, reporter: Reporter) -> Session:
    """The one place a checked config (`rnnlab.tasks.check_config`, plug-ins imported) meets
    the machine, before any run folder exists: the device, the data (`build_task`), and
    `build_session`'s checks. A config that gets through runs."""
    threads_line = set_threads(cfg.threads)  # before torch's first operation
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    set_deterministic(cfg.train.deterministic)
    task = build_task(cfg, device)  # reads the data
    session = build_session(cfg, task, device, reporter)
    if device.type == "cpu":
        reporter.message(threads_line)  # after the device line: why that many threads
    return session


def build_session(cfg: Config, task: Task, device, reporter: Reporter, run: Run | None = None):
    """The model (compiled or not), optimizer and callbacks for `task`, and the lines that
    describe them; what a config asks of them is checked here: the precision on this
    device, the memory the model needs, and each callback's own checks in its factory (a
    schedule's keys, the gradient-flow probe of the cell's equations)."""
    if device.type == "cpu":
        reuse_cpu_heap()  # large step buffers stay in the heap (device.py: 1.3x on bf16 PTB)
    mode = resolve_precision(cfg.train.precision, device)  # auto: bf16 where native
    for warning in check_precision(mode, device, cfg.model):
        reporter.warn(warning)
    check_fits(cfg, task, device)  # an estimate on the meta device: refused before allocating
    with fits_in_memory("the model", "lower model.hidden_size, num_layers or embedding"):
        model = task.build_model().to(device)
    per_epoch = task.batches_per_epoch()
    steps = per_epoch * cfg.train.epochs if per_epoch else None
    compiled, why = resolve_compile(cfg.model, device.type, steps)  # model.compile
    set_compiled(model, compiled)
    optimizer = build_optimizer(cfg.optim, model.parameters())
    n_params = sum(p.numel() for p in model.parameters())
    reporter.message(f"device: {describe(device)}  parameters: {n_params:,}")
    if cfg.model.impl == "scratch":
        reporter.message(f"compile: {'on' if compiled else 'off'} ({why})")
    if cfg.train.precision == "auto":
        native = "native" if mode == "bf16" else "no native"
        reporter.message(f"precision: auto -> {mode} ({native} bfloat16 on this {device.type})")
    precision = Precision(mode, device)
    session = Session(cfg, run, task, model, optimizer, device, compiled, precision)
    session.callbacks = make_callbacks(session)
    return session


def run_to_end(s: Session, reporter: Reporter, state: TrainState, wall_before: float = 0.0):
    """Fit, test the best checkpoint and write summary.json; on a signal or a diverged loss,
    record the run's status (interrupted, diverged) before passing the exception on."""
    started = time.time()
    timing: dict = {}  # test_s: the final evaluation's seconds, inside wall_s
    run = s.run
    assert run is not None, "a session runs in its run folder (set by train or resume)"

    def record(status: str, test: dict | None = None, **extra) -> None:
        with shielded():  # a signal now cannot cut summary.json short
            for callback in s.callbacks:
                callback.on_train_end(s, state, status)
            wall_s = wall_before + time.time() - started
            done = summary(s, state, wall_s, test, status)
            for callback in s.callbacks:
                done.update(callback.summary())
            done = {**done, **extra, "compiled": s.compiled, **timing}
            run.write_summary(done)
            for line in closing_lines(done, run.dir):
                reporter.message(line)

    try:
        with flush_denormals(s.device):  # fast CPU arithmetic, for this training only
            fit(s, reporter, state)
            test = None
            if s.task.reports_test:
                reporter.message("evaluating on test (best checkpoint) ...")
                tested = time.time()
                test = test_best(run, s.task, s.model)
                timing["test_s"] = round(time.time() - tested, 3)
            state.test = test
    except Diverged as err:
        if state.rows:
            run.write_metrics(state.rows)
        record("diverged", reason=str(err), diverged_at={"epoch": err.epoch, "step": err.step})
        raise
    except StorageError as err:  # full disk, read-only: last.pt is the previous one, whole
        try:
            record("failed", error=str(err))
        except (OSError, RnnlabError):
            pass  # the storage refuses even summary.json
        raise
    except (Interrupted, KeyboardInterrupt) as err:
        record("interrupted", at={"epoch": state.epoch + bool(state.batch), "step": state.step})
        signum = err.signum if isinstance(err, Interrupted) else signal.SIGINT
        where = err.where if isinstance(err, Interrupted) else f"at step {state.step}"
        raise Interrupted(signum, run.dir, where) from None
    if test:
        reporter.message("test (best checkpoint): " + format_row(test))
    record("finished", test)
    return run


def test_best(run: Run, task: Task, model: nn.Module) -> dict:
    """The task's test metrics with the best checkpoint's weights loaded into `model`."""
    device = next(model.parameters()).device
    model.load_state_dict(run.load_checkpoint("best", map_location=device)["model"])
    return task.test(model)


def summary(s: Session, state: TrainState, wall_s: float, test: dict | None, status: str) -> dict:
    task = s.task
    speeds = [r["tokens_per_s"] for r in state.rows[1:]] or [r["tokens_per_s"] for r in state.rows]
    return {
        "name": s.cfg.name,
        "status": status,  # finished | interrupted | diverged | failed (storage)
        "key_metric": task.key_metric,  # the validation metric that picks best.pt
        "higher_is_better": task.higher_is_better,
        "epochs": state.epoch,
        **({"stop_reason": state.stop_reason} if state.stop_reason else {}),
        "steps": state.step,
        **({"skipped_steps": state.skipped} if s.cfg.train.on_nan == "skip" else {}),
        "final": state.rows[-1] if state.rows else {},
        "best": {"epoch": state.best_epoch, "step": state.best_step, task.key_metric: state.best},
        **({"test": test} if test is not None else {}),
        **({"examples": task.data_sizes()} if task.data_sizes() else {}),
        "tokens_per_s": float(np.median(speeds)) if speeds else None,
        "peak_memory_mb": peak_memory_mb(s.device),  # RSS on CPU, max allocated on CUDA
        "precision": s.precision.mode,  # as run: `auto` resolved on this device
        **({"scaler_skipped_steps": s.precision.skipped_by_scaler} if s.precision.scaler else {}),
        "parameters": sum(p.numel() for p in s.model.parameters()),
        "device": describe(s.device),
        "threads": torch.get_num_threads(),  # intra-op threads as run (config `threads`)
        "wall_s": round(wall_s, 3),
        "versions": {
            "rnnlab": rnnlab.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
