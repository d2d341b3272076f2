"""Training: set a run up (`train`, or `rnnlab.resume.resume`), then one loop for every
task (`fit`), then test and summary.json (`run_to_end`)."""

from __future__ import annotations

import platform
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

import rnnlab
from rnnlab.checkpoint import TrainState, payload
from rnnlab.config import Config, dump_config
from rnnlab.device import describe, fits_in_memory, flush_denormals, pick_device
from rnnlab.fileio import write_atomic
from rnnlab.gradnorms import GradNormLog
from rnnlab.interrupt import Interrupted, StopSignals
from rnnlab.models.compile import resolve_compile, set_compiled
from rnnlab.nanguard import Diverged, NanGuard
from rnnlab.progress import Reporter, format_row
from rnnlab.runs import Run
from rnnlab.tasks import BatchResult, Task, build_task

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


OUTPUTS_EVERY_S = 30.0  # plots and grad_norms.csv are refreshed at most this often, and at the end


class Window:
    """Training numbers summed on the device between two log points (no host sync)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.loss = torch.zeros((), device=self.device)
        self.sums: dict[str, torch.Tensor] = {}
        self.n, self.tokens, self.started = 0, 0, time.perf_counter()

    def add(self, result: BatchResult) -> None:
        self.loss += result.loss.detach() * result.n
        for key, value in result.sums.items():
            self.sums[key] = self.sums.get(key, 0) + value.detach()
        self.n, self.tokens = self.n + result.n, self.tokens + result.tokens

    def means(self) -> tuple[float, dict[str, float], float]:
        """(mean loss, {key: mean per example}, seconds), with one host sync; nan for a
        window whose every step was skipped (train.on_nan=skip)."""
        values = torch.stack([self.loss, *(v.float() for v in self.sums.values())]).tolist()
        n = self.n or float("nan")
        extras = {k: v / n for k, v in zip(self.sums, values[1:])}
        return values[0] / n, extras, time.perf_counter() - self.started

    def state_dict(self) -> dict:
        return {"loss": self.loss, "sums": dict(self.sums), "n": self.n, "tokens": self.tokens}

    def load_state_dict(self, state: dict) -> None:
        self.loss = state["loss"].to(self.device)
        self.sums = {k: v.to(self.device) for k, v in state["sums"].items()}
        self.n, self.tokens = state["n"], state["tokens"]


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    kwargs = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.name == "sgd":
        kwargs["momentum"] = cfg.momentum
    return OPTIMIZERS[cfg.name](params, **kwargs)


@dataclass
class Session:
    """What a training session works on: built by `train` (new run) or `resume`."""

    cfg: Config
    run: Run | None  # set by `train` once the model fits, before training
    task: Task
    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    compiled: bool


def train(cfg: Config, out: Path, reporter: Reporter, run_dir: Path | None = None) -> Run:
    """Train `cfg` in a new run folder under `out` (or exactly at `run_dir`); return the run."""
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    task = build_task(cfg, device)  # reads the data: fails before a run folder exists
    session = build_session(cfg, task, device, reporter)  # a model too big fails here, too
    run = session.run = Run.create_at(run_dir) if run_dir else Run.create(out, cfg.name)
    write_atomic(run.config_path, dump_config(cfg))
    task.save_artifacts(run)
    reporter.message(f"run: {run.dir}")
    return run_to_end(session, reporter, TrainState())


def build_session(cfg: Config, task: Task, device, reporter: Reporter, run: Run | None = None):
    """The model (compiled or not) and optimizer for `task`, and the lines that describe them."""
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
    return Session(cfg, run, task, model, optimizer, device, compiled)


def run_to_end(s: Session, reporter: Reporter, state: TrainState, wall_before: float = 0.0):
    """Fit, test the best checkpoint and write summary.json; on a signal or a diverged loss,
    record the run's status (interrupted, diverged) before passing the exception on."""
    started = time.time()

    def record(status: str, test: dict | None = None, **extra) -> None:
        wall_s = wall_before + time.time() - started
        done = summary(s, state, wall_s, test, status)
        s.run.write_summary({**done, **extra, "compiled": s.compiled})

    try:
        with flush_denormals(s.device):  # fast CPU arithmetic, for this training only
            fit(s, reporter, state)
            test = test_best(s.run, s.task, s.model) if s.task.reports_test else None
    except Diverged as err:
        if state.rows:
            s.run.write_metrics(state.rows)
        record("diverged", reason=str(err), diverged_at={"epoch": err.epoch, "step": err.step})
        raise
    except (Interrupted, KeyboardInterrupt) as err:
        record("interrupted", at={"epoch": state.epoch + bool(state.batch), "step": state.step})
        signum = err.signum if isinstance(err, Interrupted) else signal.SIGINT
        where = err.where if isinstance(err, Interrupted) else f"at step {state.step}"
        raise Interrupted(signum, s.run.dir, where) from None
    if test:
        reporter.message("test (best checkpoint): " + format_row(test))
    record("finished", test)
    return s.run


def test_best(run: Run, task: Task, model: nn.Module) -> dict:
    """The task's test metrics with the best checkpoint's weights loaded into `model`."""
    device = next(model.parameters()).device
    model.load_state_dict(run.load_checkpoint("best", map_location=device)["model"])
    return task.test(model)


def fit(s: Session, reporter: Reporter, state: TrainState) -> TrainState:
    """The training loop: per batch forward, backward, gradient norms, clip, step; per log
    point (each epoch, or every train.eval_every_steps steps) log, evaluate and keep the
    best checkpoint; per epoch save last.pt and sample. On SIGINT or SIGTERM it finishes
    the step, saves last.pt there and raises `Interrupted`."""
    cfg, run, task, model = s.cfg, s.run, s.task, s.model
    t = cfg.train
    by_steps = t.eval_every_steps is not None  # the unit of evaluation: steps or epochs
    x = "step" if by_steps else "epoch"
    window = Window(s.device)
    if state.window is not None:  # resumed: the sums since the last metrics row
        window.load_state_dict(state.window)
    guard = NanGuard(t.on_nan, s.device, cfg.optim)
    grads = GradNormLog(model) if t.log_grad_norms else None
    if grads is not None and state.step:
        grads.load(run, state.step)
    outputs_written = [time.perf_counter()]

    def write_outputs(force: bool) -> None:  # plots and gradient norms: slow, so throttled
        if force or time.perf_counter() - outputs_written[0] > OUTPUTS_EVERY_S:
            if state.rows:
                task.plot(run, state.rows, x)
            if grads is not None:
                grads.write(run)
            outputs_written[0] = time.perf_counter()

    def log_point(epoch: int, evaluate: bool) -> None:
        guard.check()  # train.on_nan=stop: Diverged if a loss was nan or inf
        mean_loss, extras, seconds = window.means()  # the window's one host sync
        row = {"epoch": epoch, "step": state.step, **task.train_metrics(mean_loss), **extras}
        row.update(tokens_per_s=window.tokens / seconds, train_s=seconds)
        if evaluate:
            row.update(task.evaluate(model))
        state.rows.append(row)
        if evaluate and task.is_better(row[task.key_metric], state.best):
            state.best, state.best_epoch, state.best_step = row[task.key_metric], epoch, state.step
            save(s, "best", state, window)
        run.write_metrics(state.rows)
        reporter.epoch(row, evaluate)
        if grads is not None:
            grads.flush()
        write_outputs(force=False)
        window.reset()

    def stop_here(epoch: int, signum: int) -> None:  # save where we are, then stop
        guard.check()
        save(s, "last", state, window)
        if state.rows:
            run.write_metrics(state.rows)
        write_outputs(force=True)
        where = f"after step {state.step} (epoch {epoch}, batch {state.batch})"
        raise Interrupted(signum, run.dir, where + ", last.pt saved")

    reporter.start(t.epochs, done=state.epoch)
    try:
        with StopSignals() as stop:
            for epoch in range(state.epoch + 1, t.epochs + 1):
                model.train()
                state.epoch_start = task.state_dict()  # what this epoch's batches come from
                for batch in task.epoch_batches(skip=state.batch):
                    # forward
                    result = task.loss(model, batch)
                    objective = result.loss * result.n if t.loss_reduction == "sum" else result.loss
                    # backward
                    s.optimizer.zero_grad(set_to_none=True)
                    objective.backward()
                    # gradient norms, before clipping
                    if grads is not None:
                        grads.record(state.step + 1)
                    # clip
                    norm = clip_gradients(model, cfg.optim.clip, need_norm=t.on_nan == "skip")
                    # step (train.on_nan=skip: not when the loss or gradient is nan or inf)
                    if guard.allows(result.loss, norm):
                        s.optimizer.step()
                        window.add(result)
                    else:
                        state.skipped += 1
                    state.step, state.batch = state.step + 1, state.batch + 1
                    guard.watch(result.loss, epoch, state.step)
                    # log and evaluate every train.eval_every_steps steps
                    if by_steps and state.step % t.eval_every_steps == 0:
                        log_point(epoch, evaluate=True)
                    # SIGINT or SIGTERM: last.pt resumes right after this step
                    if stop.requested(state.step):
                        stop_here(epoch, stop.signum)
                # log, evaluate and checkpoint at the epoch's end
                last = epoch == t.epochs
                state.epoch, state.batch, state.epoch_start = epoch, 0, None
                if not by_steps:
                    log_point(epoch, evaluate=epoch % t.eval_every == 0 or last)
                elif last and window.n:
                    log_point(epoch, evaluate=True)
                guard.check()
                save(s, "last", state, window)
                reporter.advance(epoch)
                # sample
                if epoch % t.sample_every == 0 or last:
                    texts = task.samples(model)
                    if texts:
                        run.append_samples("".join(f"epoch {epoch}\t{text}\n" for text in texts))
                        reporter.samples(epoch, texts)
    finally:
        reporter.stop()
    write_outputs(force=True)
    return state


def clip_gradients(model: nn.Module, clip: float | None, need_norm: bool):
    """Clip the global gradient norm to `clip` (optim.clip); the norm before clipping, when
    clipping or asked for (train.on_nan=skip), else None."""
    if clip is not None:
        return nn.utils.clip_grad_norm_(model.parameters(), clip)
    if need_norm:
        return nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    return None


def save(s: Session, which: str, state: TrainState, window: Window) -> None:
    """A checkpoint: state_dicts plus config and metadata, loadable with weights_only=True."""
    s.run.save_checkpoint(which, payload(s.cfg, s.task, s.model, s.optimizer, state, window))


def summary(s: Session, state: TrainState, wall_s: float, test: dict | None, status: str) -> dict:
    task = s.task
    speeds = [r["tokens_per_s"] for r in state.rows[1:]] or [r["tokens_per_s"] for r in state.rows]
    return {
        "name": s.cfg.name,
        "status": status,  # finished | interrupted | diverged
        "epochs": state.epoch,
        "steps": state.step,
        **({"skipped_steps": state.skipped} if s.cfg.train.on_nan == "skip" else {}),
        "final": state.rows[-1] if state.rows else {},
        "best": {"epoch": state.best_epoch, "step": state.best_step, task.key_metric: state.best},
        **({"test": test} if test is not None else {}),
        **({"examples": task.data_sizes()} if task.data_sizes() else {}),
        "tokens_per_s": float(np.median(speeds)) if speeds else None,
        "parameters": sum(p.numel() for p in s.model.parameters()),
        "device": describe(s.device),
        "wall_s": round(wall_s, 3),
        "versions": {
            "rnnlab": rnnlab.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
