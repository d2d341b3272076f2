"""A search space: `sweep.space` in YAML or `--space KEY=SPEC` on the command line.

    sweep:
      space:
        optim.lr: {log_uniform: [1.0e-4, 1.0e-1]}
        model.hidden_size: {choice: [64, 128, 256]}
        model.dropout: {uniform: [0, 0.5]}
        model.num_layers: {int: [1, 3]}

    --space optim.lr=log_uniform:1e-4,1e-1 --space model.hidden_size=choice:64,128,256

Random search draws from it with NumPy (trial k of seed s always draws the same values);
Optuna search turns it into Optuna distributions (`to_optuna`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import yaml

from rnnlab.errors import RnnlabError

KINDS = ("log_uniform", "uniform", "int", "choice")


def parse_space_options(items: list[str]) -> dict[str, dict]:
    """['optim.lr=log_uniform:1e-4,1e-1'] -> {'optim.lr': {'log_uniform': [0.0001, 0.1]}}."""
    space: dict[str, dict] = {}
    for item in items:
        key, sep, spec = item.partition("=")
        kind, colon, values = spec.partition(":")
        if not sep or not key.strip() or not colon or kind not in KINDS or not values:
            raise RnnlabError(
                f"--space '{item}' is not KEY=KIND:V1,V2 with KIND one of {', '.join(KINDS)} "
                f"(e.g. optim.lr=log_uniform:1e-4,1e-1)"
            )
        if key.strip() in space:
            raise RnnlabError(f"--space names '{key.strip()}' twice")
        space[key.strip()] = {kind: [_scalar(v.strip()) for v in values.split(",")]}
    return space


def check_space(space: dict) -> dict[str, tuple[str, list]]:
    """{key: (kind, values)} once every entry is one kind with fitting values."""
    checked = {}
    for key, spec in space.items():
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
            raise RnnlabError(
                f"sweep.space '{key}' must be one of {{{', '.join(k + ': [...]' for k in KINDS)}}}"
            )
        kind, values = next(iter(spec.items()))
        checked[key] = (kind, _check_values(key, kind, values))
    if not checked:
        raise RnnlabError("nothing to search: give --space KEY=SPEC or a sweep.space in the config")
    if "seed" in checked:
        raise RnnlabError("the seed is not searched: a search trains each trial with the config's")
    return checked


def _check_values(key: str, kind: str, values) -> list:
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise RnnlabError(f"sweep.space '{key}': choice needs a non-empty list of values")
        return values
    if isinstance(values, list):
        values = [_float_text(v) for v in values]  # YAML 1.1 reads 1e-4 as a string
    numbers = isinstance(values, list) and len(values) == 2
    numbers = numbers and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )
    if not numbers:
        raise RnnlabError(f"sweep.space '{key}': {kind} needs [low, high], got {values!r}")
    low, high = values
    if kind == "int" and not (isinstance(low, int) and isinstance(high, int)):
        raise RnnlabError(f"sweep.space '{key}': int needs integer bounds, got {values!r}")
    if not low < high:
        raise RnnlabError(f"sweep.space '{key}': {kind} needs low < high, got {values!r}")
    if kind == "log_uniform" and low <= 0:
        raise RnnlabError(f"sweep.space '{key}': log_uniform needs low > 0, got {low}")
    return [low, high]


def corners(space: dict[str, tuple[str, list]]) -> list[dict]:
    """Value sets that together try every bound and every choice of the space (to check
    the configs they make before anything runs)."""
    width = max(len(values) for _, values in space.values())
    return [{k: values[min(i, len(values) - 1)] for k, (_, values) in space.items()}
            for i in range(width)]  # fmt: skip


def draw(space: dict[str, tuple[str, list]], seed: int, number: int) -> dict[str, Any]:
    """Trial `number`'s values for random search: the same for the same seed and number."""
    rng = np.random.default_rng([seed, number])
    values: dict[str, Any] = {}
    for key, (kind, spec) in space.items():
        if kind == "choice":
            values[key] = spec[int(rng.integers(len(spec)))]
        elif kind == "int":
            values[key] = int(rng.integers(spec[0], spec[1] + 1))
        elif kind == "uniform":
            values[key] = float(rng.uniform(spec[0], spec[1]))
        else:
            values[key] = float(math.exp(rng.uniform(math.log(spec[0]), math.log(spec[1]))))
    return values


def to_optuna(space: dict[str, tuple[str, list]]) -> dict:
    """The space as Optuna distributions (for `study.ask`)."""
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    made: dict[str, BaseDistribution] = {}
    for key, (kind, spec) in space.items():
        if kind == "choice":
            made[key] = CategoricalDistribution(spec)
        elif kind == "int":
            made[key] = IntDistribution(spec[0], spec[1])
        else:
            made[key] = FloatDistribution(spec[0], spec[1], log=kind == "log_uniform")
    return made


def _scalar(text: str) -> Any:
    try:
        return _float_text(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def _float_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
