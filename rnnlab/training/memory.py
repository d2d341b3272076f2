"""Refuse a model that cannot fit before allocating it: its parameters are counted on
PyTorch's meta device (shapes only, no memory), then weights, gradients and optimizer
state, plus a rough bound on one batch's activations, are compared with the memory the
device has free (MemAvailable on CPU, cudaMemGetInfo on a GPU).

The estimate is a lower bound (it leaves out the allocator's slack and temporaries), so a
model it lets through can still run out of memory; `device.fits_in_memory` then turns the
failed allocation into one line. What it refuses would certainly not fit.
"""

from __future__ import annotations

import dataclasses

import torch

from rnnlab.data.safe_read import available_memory
from rnnlab.errors import RnnlabError

OPTIMIZER_STATES = {"sgd": 1, "adam": 2, "adamw": 2}  # tensors the optimizer keeps per weight
SAVED_PER_UNIT = 8  # activations kept for backward per hidden unit, step and example (gates)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on `device`, or None when it cannot be told."""
    if device.type == "cuda":
        try:
            return torch.cuda.mem_get_info(device)[0]
        except (RuntimeError, AssertionError):
            return None
    return available_memory()  # MemAvailable


def estimate_bytes(cfg, task) -> tuple[int, int] | None:
    """(parameters, bytes training them needs at least), or None when the model cannot be
    built on the meta device."""
    params = count_parameters(cfg, task)
    if params is None:
        return None
    per_weight = 4 * (2 + OPTIMIZER_STATES.get(cfg.optim.name, 2))  # fp32 weight, grad, states
    data = cfg.data
    steps = getattr(data, "num_steps", None) or getattr(data, "max_len", None) or 100
    layers = cfg.model.num_layers * (2 if cfg.model.bidirectional else 1)
    activations = 4 * SAVED_PER_UNIT * data.batch_size * steps * cfg.model.hidden_size * layers
    return params, params * per_weight + activations


def count_parameters(cfg, task) -> int | None:
    """The model's parameters, counted on the meta device in O(1) of model.num_layers:
    layers 2 and on are alike, so a deep stack is counted from its 2- and 3-layer builds."""
    layers = cfg.model.num_layers
    if layers <= 3:
        return _meta_parameters(cfg, task, layers)
    two, three = _meta_parameters(cfg, task, 2), _meta_parameters(cfg, task, 3)
    if two is None or three is None:
        return None
    return two + (layers - 2) * (three - two)


def _meta_parameters(cfg, task, layers: int) -> int | None:
    model_cfg = dataclasses.replace(cfg.model, num_layers=layers)
    try:
        with torch.device("meta"):
            model = task.model_for(dataclasses.replace(cfg, model=model_cfg), task.artifacts())
    except Exception:  # an init the meta device cannot run: no estimate, no refusal
        return None
    return sum(p.numel() for p in model.parameters())


def check_fits(cfg, task, device: torch.device) -> None:
    """RnnlabError, before any allocation, when the model's estimate exceeds free memory."""
    estimate = estimate_bytes(cfg, task)
    free = available_bytes(device)
    if estimate is None or free is None:
        return
    params, needed = estimate
    if needed > free:
        raise RnnlabError(
            f"the model does not fit in memory: it needs at least {needed / 2**30:,.1f} GiB to train ({params:,} parameters "
            f"with gradients and {cfg.optim.name} state, and one batch's activations); "
            f"{device.type} has {free / 2**30:,.1f} GiB free: lower model.hidden_size, "
            f"num_layers or data.batch_size"
        )
