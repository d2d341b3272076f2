"""Config checks for the training techniques (torch-free, called by `load.py`):
learning-rate schedules and their keys (`schedules.py`), the time limit's duration, and the
regularisers of language models that depend on one another."""

from __future__ import annotations

import re

from rnnlab.config.schedules import check_schedule
from rnnlab.errors import RnnlabError

DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)([hms])")
SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}


def check_techniques(cfg) -> None:
    """RnnlabError naming the key for any technique set inconsistently."""
    check_regularisers(cfg.model)
    check_schedule(cfg.optim)
    check_average(cfg.optim)
    if cfg.train.time_limit is not None:
        parse_duration(cfg.train.time_limit, "train.time_limit")
    if cfg.optim.decay_steps == "budget" and cfg.train.time_limit is None:
        raise RnnlabError(
            "'optim.decay_steps: budget' ends the decay where train.time_limit ends the run: "
            "set train.time_limit (e.g. 15m), or give decay_steps a number of steps"
        )
    if cfg.train.log_grad_flow and cfg.model.softmax != "full":
        raise RnnlabError(ADAPTIVE_NOT_PROBED.format(what="'train.log_grad_flow'"))


# the gradient-flow probe (models/probe.py) re-runs a full output layer
ADAPTIVE_NOT_PROBED = "{what} measures models with model.softmax: full, not adaptive"


def parse_duration(text: str | float, key: str) -> float:
    """Seconds in "90s", "10m", "2h", "1h30m" (numbers with a unit each); RnnlabError naming
    `key` for anything else."""
    if not isinstance(text, str):
        raise RnnlabError(f"'{key}' needs a unit (90s, 10m, 2h), got {text!r}")
    compact = text.replace(" ", "")
    if not compact or DURATION_PART.sub("", compact) or not DURATION_PART.match(compact):
        raise RnnlabError(f"'{key}' must be a duration like 90s, 10m, 2h or 1h30m, got {text!r}")
    seconds = sum(float(n) * SECONDS[unit] for n, unit in DURATION_PART.findall(compact))
    if seconds <= 0:
        raise RnnlabError(f"'{key}' must be a positive duration, got {text!r}")
    return seconds


def check_average(optim) -> None:
    """optim.average_start and average_decay belong to the averages that use them."""
    if optim.average == "none" and optim.average_start is not None:
        raise RnnlabError("'optim.average_start' is for optim.average: uniform or ema")
    if optim.average != "ema" and optim.average_decay is not None:
        raise RnnlabError(f"'optim.average_decay' is for optim.average: ema, not {optim.average}")


# regularisers that act on a learned embedding, and what each does to it
EMBEDDING_REGULARISERS = {
    "embed_dropout": "drops the embedding output",
    "token_dropout": "blanks input tokens' embeddings",
}


def check_regularisers(model) -> None:
    """Tied weights, dropout placements, the adaptive softmax and init_range (the cutoffs
    against the vocabulary are checked when the model is built)."""
    if model.tie_weights:
        out = model.hidden_size * (2 if model.bidirectional else 1)
        if model.embedding == "one_hot":
            raise RnnlabError(
                "'model.tie_weights' shares the embedding matrix: it needs a learned "
                f"model.embedding of size {out} (the last layer's output size), not one_hot"
            )
        if model.embedding != out:
            raise RnnlabError(
                f"'model.tie_weights' needs the embedding size ({model.embedding}) to equal "
                f"the last layer's output size ({out}): set model.embedding: {out}"
            )
        if model.softmax != "full":
            raise RnnlabError("'model.tie_weights' shares a full output layer: use softmax: full")
    for key, what in EMBEDDING_REGULARISERS.items():
        if getattr(model, key) and model.embedding == "one_hot":
            raise RnnlabError(f"'model.{key}' {what}: set a learned model.embedding")
    if model.locked_dropout and not (model.embed_dropout or model.output_dropout):
        raise RnnlabError(
            "'model.locked_dropout' locks the masks of model.embed_dropout and "
            "model.output_dropout: set one of them above 0"
        )
    if model.init_range != 0.1 and model.init != "uniform":
        raise RnnlabError(f"'model.init_range' is for model.init: uniform, got {model.init}")
    check_cutoffs(model)


def check_cutoffs(model) -> None:
    cutoffs = model.adaptive_cutoffs
    if model.softmax != "adaptive":
        if cutoffs:
            raise RnnlabError("'model.adaptive_cutoffs' is for model.softmax: adaptive")
        return
    if not cutoffs:
        raise RnnlabError(
            "'model.softmax: adaptive' needs model.adaptive_cutoffs, e.g. [2000, 10000]"
        )
    if cutoffs[0] <= 0 or any(b <= a for a, b in zip(cutoffs, cutoffs[1:])):
        raise RnnlabError(
            f"'model.adaptive_cutoffs' must be positive and increasing, got {cutoffs}"
        )
