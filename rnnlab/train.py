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
from rnnlab.device import describe, pick_device
from rnnlab.fileio import write_atomic
from rnnlab.progress import Reporter
from rnnlab.runs import Run
from rnnlab.tasks import Task, build_task

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


@dataclass
class TrainState:
    """Where training stands: what a checkpoint records and a resumed run continues from."""

    epoch: int = 0  # epochs finished
    step: int = 0  # optimizer steps taken
    best: float | None = None  # best value of the task's key metric so far
    best_epoch: int | None = None
    rows: list[dict] = field(default_factory=list)  # metrics.csv, one row per epoch


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
    model = task.build_model().to(device)
    optimizer = build_optimizer(cfg.optim, model.parameters())
    run = Run.create_at(run_dir) if run_dir else Run.create(out, cfg.name)
    write_atomic(run.config_path, dump_config(cfg))
    task.save_artifacts(run)
    reporter.message(f"run: {run.dir}")
    n_params = sum(p.numel() for p in model.parameters())
    reporter.message(f"device: {describe(device)}  parameters: {n_params:,}")
    started = time.time()
    state = fit(cfg, run, task, model, optimizer, reporter, TrainState())
    run.write_summary(summary(cfg, task, state, device, n_params, time.time() - started))
    return run


def fit(cfg, run: Run, task: Task, model: nn.Module, optimizer, reporter, state: TrainState):
    """The training loop: per batch forward, backward, clip, step; per epoch log, evaluate
    and checkpoint, sample."""
    device = next(model.parameters()).device
    reporter.start(cfg.train.epochs, done=state.epoch)
    try:
        for epoch in range(state.epoch + 1, cfg.train.epochs + 1):
            model.train()
            started = time.perf_counter()
            loss_sum, predictions, tokens = torch.zeros((), device=device), 0, 0
            for batch in task.epoch_batches():
                # forward
                loss, n, n_tokens = task.loss(model, batch)
                # backward
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                # clip
                if cfg.optim.clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip)
                # step
                optimizer.step()
                state.step += 1
                loss_sum += loss.detach() * n
                predictions, tokens = predictions + n, tokens + n_tokens
            # log: the epoch's one host sync is here
            mean_loss = (loss_sum / predictions).item()
            seconds = time.perf_counter() - started
            row = {
                "epoch": epoch,
                **task.train_metrics(mean_loss),
                "tokens_per_s": tokens / seconds,
            }
            # evaluate and checkpoint
            evaluated = epoch % cfg.train.eval_every == 0 or epoch == cfg.train.epochs
            if evaluated:
                row.update(task.evaluate(model))
            state.epoch = epoch
            state.rows.append(row)
            if evaluated and task.is_better(row[task.key_metric], state.best):
                state.best, state.best_epoch = row[task.key_metric], epoch
                save(run, "best", cfg, task, model, optimizer, state)
            save(run, "last", cfg, task, model, optimizer, state)
            run.write_metrics(state.rows)
            reporter.epoch(row, evaluated)
            # sample
            if epoch % cfg.train.sample_every == 0 or epoch == cfg.train.epochs:
                texts = task.samples(model)
                run.append_samples("".join(f"epoch {epoch}\t{t}\n" for t in texts))
                reporter.samples(epoch, texts)
                task.plot(run, state.rows)
    finally:
        reporter.stop()
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
            "metrics": state.rows[-1],
        },
    )


def summary(cfg, task: Task, state: TrainState, device, n_params: int, wall_s: float) -> dict:
    speeds = [r["tokens_per_s"] for r in state.rows[1:]] or [r["tokens_per_s"] for r in state.rows]
    return {
        "name": cfg.name,
        "status": "finished",
        "epochs": state.epoch,
        "steps": state.step,
        "final": state.rows[-1] if state.rows else {},
        "best": {"epoch": state.best_epoch, task.key_metric: state.best},
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
