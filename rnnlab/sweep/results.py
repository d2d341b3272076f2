"""A sweep's results: one row per run in results.csv, and the main metric plotted against
the first swept key (a line per combination of the others, mean and min-max over seeds)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from rnnlab.runs.plots import pyplot, save_png
from rnnlab.runs.tables import write_csv

# The metric a sweep plots when none is named: the first of these its runs report.
DEFAULT_METRICS = [
    "test_acc",
    "best_dev_acc",
    "best_val_acc",
    "best_val_ppl",
    "final_train_ppl",
    "test_mse",  # the adding problem
]


def flatten_summary(summary: dict) -> dict:
    """summary.json -> flat columns: final_train_ppl, best_val_ppl, best_epoch, test_acc..."""
    flat = {}
    for section in ("final", "best", "test"):
        for key, value in (summary.get(section) or {}).items():
            if key != "epoch" or section == "best":  # "test_acc" stays, not "test_test_acc"
                flat[key if key.startswith(f"{section}_") else f"{section}_{key}"] = value
    for key in ("epochs", "tokens_per_s", "parameters"):
        flat[key] = summary.get(key)
    return flat


def pick_metric(rows: list[dict], requested: str | None) -> str | None:
    if requested:
        return requested
    for name in DEFAULT_METRICS:
        if any(r.get(name) is not None for r in rows):
            return name
    return None


def write_results(path: Path, rows: list[dict]) -> None:
    """results.csv: one row per run (the columns every row has, in first-seen order)."""
    write_csv(path, rows)


def plot_sweep(
    path: Path,
    rows: list[dict],
    grid: dict[str, list],
    metric: str,
    title: str,
    baseline: dict | None = None,
) -> bool:
    """Plot `metric` against the first grid key; False when there is nothing to plot yet.
    `baseline` ({x: value}, or {None: value} for one value at every x): a memory task's
    memoryless baseline, drawn as a dashed black line."""
    keys = list(grid)
    series = _series(rows, keys, metric)
    if not series:
        return False
    plt = pyplot()
    xs_all = grid[keys[0]]  # in the order the grid gives them
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
    position = (lambda x: x) if numeric else {x: i for i, x in enumerate(xs_all)}.get
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for label, points in series.items():
        xs = [x for x in xs_all if x in points]
        mean = [sum(points[x]) / len(points[x]) for x in xs]
        ax.plot([position(x) for x in xs], mean, marker="o", markersize=4, label=label or metric)
        if any(len(points[x]) > 1 for x in xs):
            low, high = [min(points[x]) for x in xs], [max(points[x]) for x in xs]
            ax.fill_between([position(x) for x in xs], low, high, alpha=0.2)
    if baseline:
        _draw_baseline(ax, baseline, xs_all, position)
    if not numeric:
        ax.set_xticks(range(len(xs_all)), [str(x) for x in xs_all])
    elif min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 8:  # lengths 10..1000: log spacing
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs_all, [str(x) for x in xs_all])
        ax.minorticks_off()
    ax.set_xlabel(keys[0])
    ax.set_ylabel(metric + (" (mean, min-max over seeds)" if _has_seeds(rows) else ""))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_png(fig, path)
    return True


def _draw_baseline(ax, baseline: dict, xs_all: list, position) -> None:
    label = "memoryless baseline"
    if None in baseline:
        ax.axhline(baseline[None], color="black", linestyle="--", linewidth=1.2, label=label)
        return
    xs = [x for x in xs_all if baseline.get(x) is not None]
    ys = [baseline[x] for x in xs]
    ax.plot([position(x) for x in xs], ys, "k--", linewidth=1.2, label=label)


def _series(rows, keys, metric) -> dict[str, dict]:
    """{label of the other keys' values: {x: [metric over seeds]}} for finished runs."""
    series: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        value = row.get(metric)
        if row.get("status") != "finished" or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        label = ", ".join(f"{k.split('.')[-1]}={row[k]}" for k in keys[1:])
        series[label][row[keys[0]]].append(value)
    return series


def _has_seeds(rows) -> bool:
    return len({r.get("seed") for r in rows}) > 1
