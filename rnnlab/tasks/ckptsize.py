"""A checkpoint's size checked against what the run's config implies, before it is
loaded: its records (read from the zip's directory, nothing inflated) may hold the model's
weights a few times over (optimizer state, averaged weights) and a bounded rest, never
more. A best.pt grown to gigabytes is refused without allocating them."""

from __future__ import annotations

from pathlib import Path

import torch

from rnnlab.errors import RnnlabError
from rnnlab.runs.run import checkpoint_bytes

COPIES = 8  # weights, optimizer state (Adam: 2), averaged weights, with room to spare
REST = 64 << 20  # generator states, metrics rows, gradient-flow curves


def check_checkpoint_size(path: Path, cfg, task, artifacts) -> None:
    """RnnlabError when the checkpoint at `path` holds more bytes than a model of this
    config (counted on the meta device) can explain."""
    try:
        with torch.device("meta"):
            model = task.model_for(cfg, artifacts)
    except Exception:  # a model the meta device cannot build: no bound, torch.load decides
        return
    params = sum(p.numel() for p in model.parameters())
    bound = params * 4 * COPIES + REST
    size = checkpoint_bytes(Path(path))
    if size > bound:
        raise RnnlabError(
            f"{path} holds {size:,} bytes, more than a model of this run's config "
            f"({params:,} parameters) can fill (at most {bound:,}): not this run's "
            f"checkpoint; refused before loading"
        )


def bound_checkpoint(run, which: str, cfg, task) -> None:
    """The checkpoint's size against what the config implies, before it is loaded (when
    the run's vocabulary is readable: else the checks after loading say what is wrong)."""
    try:
        artifacts = task.load_artifacts(run)
    except (RnnlabError, OSError, ValueError, KeyError):
        return
    check_checkpoint_size(run.checkpoint_path(which), cfg, task, artifacts)
