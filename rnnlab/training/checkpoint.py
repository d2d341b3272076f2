"""What a checkpoint holds, and how a resumed run takes it back.

A checkpoint is a dict of state_dicts, tensors and plain data (loadable with
`weights_only=True`). last.pt holds everything needed to go on exactly where it was
written, at an epoch's end or in the middle of one:

- the model and optimizer state;
- `task`: the task's generator states as of the start of the epoch in progress, and
  `batch`: how many of that epoch's batches are done (the epoch's batches are drawn again
  from those states and the done ones skipped);
- `carried`: the hidden state a sequential language model carries between batches;
- `rng`: the global torch (and CUDA), numpy and Python generators as they are now (dropout);
- `window`: the training sums since the last metrics row, and `rows`: every metrics row.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch

from rnnlab.config import Config, config_to_dict

FORMAT = "rnnlab-checkpoint/2"


@dataclass
class TrainState:
    """Where training stands: what a checkpoint records and a resumed run continues from."""

    epoch: int = 0  # epochs finished
    step: int = 0  # optimizer steps taken (skipped ones included)
    batch: int = 0  # batches done in the epoch in progress (epoch + 1)
    skipped: int = 0  # steps whose update train.on_nan=skip left out
    best: float | None = None  # best value of the task's key metric so far
    best_epoch: int | None = None
    best_step: int | None = None
    rows: list[dict] = field(default_factory=list)  # metrics.csv, one row per log point
    epoch_start: dict | None = None  # the task's generator states when this epoch began
    window: dict | None = None  # a resumed run's training sums since the last row
    callbacks: dict = field(default_factory=dict)  # each callback's state, by name
    stop_reason: str | None = None  # why a callback ended training early (summary.json)
    test: dict | None = None  # the best checkpoint's test metrics, once tested (callbacks)


def payload(
    cfg: Config, task, model, optimizer, state: TrainState, window, callbacks: dict
) -> dict:
    """The checkpoint dict for the loop's current position."""
    device = next(model.parameters()).device
    return {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "task": state.epoch_start if state.epoch_start is not None else task.state_dict(),
        "carried": task.carried() if state.batch else None,
        "rng": rng_states(device),
        "window": window.state_dict(),
        "callbacks": callbacks,  # each callback's state_dict, by name
        "config": config_to_dict(cfg),
        "epoch": state.epoch,
        "step": state.step,
        "batch": state.batch,
        "skipped": state.skipped,
        "best": state.best,
        "best_epoch": state.best_epoch,
        "best_step": state.best_step,
        "metrics": state.rows[-1] if state.rows else {},
        "rows": state.rows,
    }


def restore(ckpt: dict, task, model, optimizer) -> TrainState:
    """Load a checkpoint into a freshly built task, model and optimizer; its TrainState."""
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    task.load_state_dict(ckpt["task"])
    task.set_carried(ckpt["carried"])
    set_rng_states(ckpt["rng"])
    keys = ("epoch", "step", "batch", "skipped", "best", "best_epoch", "best_step")
    return TrainState(
        **{k: ckpt[k] for k in keys},
        rows=list(ckpt["rows"]),
        window=ckpt["window"],
        callbacks=dict(ckpt.get("callbacks") or {}),
    )


def rng_states(device: torch.device) -> dict:
    legacy = cast(tuple, np.random.get_state(legacy=True))  # (name, keys, pos, gauss...)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
        "numpy": json.dumps([legacy[0], legacy[1].tolist(), *legacy[2:]]),
        "python": json.dumps(random.getstate()),
    }


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])
    name, keys, pos, has_gauss, gauss = json.loads(states["numpy"])
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = json.loads(states["python"])
    random.setstate((version, tuple(internal), gauss_next))
