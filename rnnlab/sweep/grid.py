"""Sweep grids: `--grid data.length=10,15,20` and `sweep.grid` in YAML, expanded into
points (one config override set per run), each with a stable folder name."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from rnnlab.config.load import split_assignment, yaml_scalar
from rnnlab.errors import RnnlabError

MAX_POINT_NAME = 120  # characters of slug kept in a point's folder name


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the swept values (in grid order) and the seed."""

    values: tuple[tuple[str, Any], ...]  # ((key, value), ...)
    seed: int

    def overrides(self) -> list[str]:
        return [f"{k}={as_yaml(v)}" for k, v in self.values] + [f"seed={self.seed}"]

    @property
    def name(self) -> str:
        """A folder name: 'cell-lstm_length-10_seed-0'. Unique by construction: when the
        slug drops or shortens anything (`a b`, `a+b` -> `a_b`), a short hash of the exact
        values is added, so two points never share a folder."""
        shorts = [k.split(".")[-1] for k, _ in self.values]
        keys = shorts if len(set(shorts)) == len(shorts) else [k for k, _ in self.values]
        parts = [f"{k}-{as_yaml(v)}" for k, (_, v) in zip(keys, self.values)]
        exact = "_".join(parts + [f"seed-{self.seed}"])
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", exact)
        if slug == exact and len(slug) <= MAX_POINT_NAME:
            return slug
        digest = hashlib.sha1(repr((self.values, self.seed)).encode()).hexdigest()[:8]
        return f"{slug[:MAX_POINT_NAME]}-{digest}"


def as_yaml(value: Any) -> str:
    """A value as an override's right-hand side (JSON is YAML)."""
    return value if isinstance(value, str) else json.dumps(value)


def parse_grid_options(items: list[str]) -> dict[str, list]:
    """['data.length=10,15', 'model.cell=rnn,lstm'] -> {'data.length': [10, 15], ...}."""
    grid: dict[str, list] = {}
    for item in items:
        key, text = split_assignment(item)
        values = [v.strip() for v in text.split(",")]
        if key is None or any(v == "" for v in values):
            raise RnnlabError(f"--grid '{item}' is not KEY=V1,V2,... (e.g. data.length=10,15,20)")
        if key in grid:
            raise RnnlabError(f"--grid names '{key}' twice")
        grid[key] = [yaml_scalar(v, f"--grid value {v[:40]!r}") for v in values]
    return grid


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise RnnlabError(f"--seeds must be integers separated by commas, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise RnnlabError(f"--seeds has a seed twice: {text!r}")
    return seeds


def expand(grid: dict[str, list], seeds: list[int]) -> list[Point]:
    """The cartesian product of the grid, once per seed (seed varies fastest)."""
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise RnnlabError(f"sweep grid '{key}' must be a non-empty list of values")
        if len({as_yaml(v) for v in values}) != len(values):
            raise RnnlabError(f"sweep grid '{key}' has a value twice: {values}")
    keys = list(grid)
    combos = itertools.product(*(grid[k] for k in keys))
    return [Point(tuple(zip(keys, c)), s) for c in combos for s in seeds]


def check_size(grid: dict[str, list], seeds: list[int], max_runs: int | None) -> None:
    """Refuse a grid of more than `max_runs` runs, counted without expanding it."""
    if max_runs is None:
        return
    runs = len(seeds)
    for values in grid.values():
        runs *= len(values) if isinstance(values, list) else 1
        if runs > max_runs:
            break
    if runs > max_runs:
        total = len(seeds) * math.prod(len(v) if isinstance(v, list) else 1 for v in grid.values())
        raise RnnlabError(
            f"the sweep has {total:,} runs, more than --max-runs {max_runs}: pass --max-runs "
            f"{total} to run them all, or narrow the grid"
        )
