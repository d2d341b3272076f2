"""Sweeps: a grid of configs run as ordinary runs, their results gathered and plotted."""

from .grid import Point, expand, parse_grid_options, parse_seeds
from .runner import Sweep, plan_sweep, reopen_sweep, run_sweep

__all__ = ["Point", "Sweep", "expand", "parse_grid_options", "parse_seeds", "plan_sweep",
           "reopen_sweep", "run_sweep"]  # fmt: skip
