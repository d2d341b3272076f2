"""Training: set a run up (`train`), then one loop for every task (`fit`)."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

import rnnlab
from rnnlab.config import Config, config_to_dict, dump_config
from rnnlab.device import describe, fits_in_memory, flush_denormals, pick_device
from rnnlab.fileio import write_atomic
from rnnlab.gradnorms import GradNormLog
from rnnlab.models.compile import resolve_compile, set_compiled
from rnnlab.progress import Reporter, format_row
from rnnlab.runs import Run
from rnnlab.tasks import BatchResult, Task, build_task

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


OUTPUTS_EVERY_S = 30.0  # plots and grad_norms.csv are refreshed at most this often, and at the end


@dataclass
class TrainState:
    """Where training stands: what a checkpoint records and a resumed run continues from."""

    epoch: int = 0  # epochs finished
    step: int = 0  # optimizer steps taken
    best: float | None = None  # best value of the task's key metric so far
    best_epoch: int | None = None
    best_step: int | None = None
    rows: list[dict] = field(default_factory=list)  # metrics.csv, one row per log point


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
        """(mean loss, {key: mean per example}, seconds), with one host sync."""
        values = torch.stack([self.loss, *(v.float() for v in self.sums.values())]).tolist()
        extras = {k: v / self.n for k, v in zip(self.sums, values[1:])}
        return values[0] / self.n, extras, time.perf_counter() - self.started


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    kwargs = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.name == "sgd":
        kwargs["momentum"] = cfg.momentum
    return OPTIMIZERS[cfg.name](params, **kwargs)


def train(cfg: Config, out: Path, reporter: Reporter, run_dir: Path | None = None) -> Run:
    """Train `cfg` in a new run folder under `out` (or exactly at `run_dir`); return the run."""
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    task = build_task(cfg, device)  # reads the data: fails before a run folder exists
    with fits_in_memory("the model", "lower model.hidden_size, num_layers or embedding"):
        model = task.build_model().to(device)
    per_epoch = task.batches_per_epoch()
    steps = per_epoch * cfg.train.epochs if per_epoch else None
    compiled, why = resolve_compile(cfg.model, device.type, steps)  # model.compile
    set_compiled(model, compiled)
    optimizer = build_optimizer(cfg.optim, model.parameters())
    run = Run.create_at(run_dir) if run_dir else Run.create(out, cfg.name)
    write_atomic(run.config_path, dump_config(cfg))
    task.save_artifacts(run)
    reporter.message(f"run: {run.dir}")
    n_params = sum(p.numel() for p in model.parameters())
    reporter.message(f"device: {describe(device)}  parameters: {n_params:,}")
    if cfg.model.impl == "scratch":
        reporter.message(f"compile: {'on' if compiled else 'off'} ({why})")
    started = time.time()
    with flush_denormals(device):  # fast CPU arithmetic, for this training only
        state = fit(cfg, run, task, model, optimizer, reporter, TrainState())
        test = test_best(run, task, model) if task.reports_test else None
    if test:
        reporter.message("test (best checkpoint): " + format_row(test))
    done = summary(cfg, task, state, device, n_params, time.time() - started, test)
    run.write_summary({**done, "compiled": compiled})
    return run


def test_best(run: Run, task: Task, model: nn.Module) -> dict:
    """The task's test metrics with the best checkpoint's weights loaded into `model`."""
    device = next(model.parameters()).device
    model.load_state_dict(run.load_checkpoint("best", map_location=device)["model"])
    return task.test(model)


def fit(cfg, run: Run, task: Task, model: nn.Module, optimizer, reporter, state: TrainState):
    """The training loop: per batch forward, backward, gradient norms, clip, step; per log
    point (each epoch, or every train.eval_every_steps steps) log, evaluate and keep the
    best checkpoint; per epoch save last.pt and sample."""
    t = cfg.train
    by_steps = t.eval_every_steps is not None  # the unit of evaluation: steps or epochs
    x = "step" if by_steps else "epoch"
    window = Window(next(model.parameters()).device)
    grads = GradNormLog(model) if t.log_grad_norms else None
    outputs_written = [time.perf_counter()]

    def write_outputs(force: bool) -> None:  # plots and gradient norms: slow, so throttled
        if force or time.perf_counter() - outputs_written[0] > OUTPUTS_EVERY_S:
            task.plot(run, state.rows, x)
            if grads is not None:
                grads.write(run)
            outputs_written[0] = time.perf_counter()

    def log_point(epoch: int, evaluate: bool) -> None:
        mean_loss, extras, seconds = window.means()  # the window's one host sync
        row = {"epoch": epoch, "step": state.step, **task.train_metrics(mean_loss), **extras}
        row.update(tokens_per_s=window.tokens / seconds, train_s=seconds)
        if evaluate:
            row.update(task.evaluate(model))
        state.rows.append(row)
        if evaluate and task.is_better(row[task.key_metric], state.best):
            state.best, state.best_epoch, state.best_step = row[task.key_metric], epoch, state.step
            save(run, "best", cfg, task, model, optimizer, state)
        run.write_metrics(state.rows)
        reporter.epoch(row, evaluate)
        if grads is not None:
            grads.flush()
        write_outputs(force=False)
        window.reset()

    reporter.start(t.epochs, done=state.epoch)
    try:
        for epoch in range(state.epoch + 1, t.epochs + 1):
            model.train()
            for batch in task.epoch_batches():
                # forward
                result = task.loss(model, batch)
                objective = result.loss * result.n if t.loss_reduction == "sum" else result.loss
                # backward
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                # gradient norms, before clipping
                if grads is not None:
                    grads.record(state.step + 1)
                # clip
                if cfg.optim.clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip)
                # step
                optimizer.step()
                state.step += 1
                window.add(result)
                if by_steps and state.step % t.eval_every_steps == 0:
                    log_point(epoch, evaluate=True)
            # log, evaluate and checkpoint at the epoch's end
            last = epoch == t.epochs
            state.epoch = epoch
            if not by_steps:
                log_point(epoch, evaluate=epoch % t.eval_every == 0 or last)
            elif last and window.n:
                log_point(epoch, evaluate=True)
            save(run, "last", cfg, task, model, optimizer, state)
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


def save(run: Run, which: str, cfg, task: Task, model, optimizer, state: TrainState) -> None:
    """A checkpoint: state_dicts plus config and metadata, loadable with weights_only=True."""
    run.save_checkpoint(
        which,
        {
            "format": "rnnlab-checkpoint/1",
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "task": task.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "config": config_to_dict(cfg),
            "epoch": state.epoch,
            "step": state.step,
            "best": state.best,
            "best_epoch": state.best_epoch,
            "best_step": state.best_step,
            "metrics": state.rows[-1] if state.rows else {},
        },
    )


def summary(
    cfg, task: Task, state: TrainState, device, n_params: int, wall_s: float, test: dict | None
) -> dict:
    speeds = [r["tokens_per_s"] for r in state.rows[1:]] or [r["tokens_per_s"] for r in state.rows]
    return {
        "name": cfg.name,
        "status": "finished",
        "epochs": state.epoch,
        "steps": state.step,
        "final": state.rows[-1] if state.rows else {},
        "best": {"epoch": state.best_epoch, "step": state.best_step, task.key_metric: state.best},
        **({"test": test} if test is not None else {}),
        **({"examples": task.data_sizes()} if task.data_sizes() else {}),
        "tokens_per_s": float(np.median(speeds)) if speeds else None,
        "parameters": n_params,
        "device": describe(device),
        "wall_s": round(wall_s, 3),
        "versions": {
            "rnnlab": rnnlab.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
