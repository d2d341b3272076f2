"""`rnnlab runs`: the run folders under a folder (or a sweep folder's runs) as rows of
name, status, key metric, best epoch, epochs, wall time and start time, newest first.

Read from each folder's summary.json (and metrics.csv for a run without one yet); a
folder that is not a run is skipped, a corrupt file reads as missing. No torch."""

from __future__ import annotations

import re
import time
from pathlib import Path

from rnnlab.errors import RnnlabError
from rnnlab.runs.run import Run

STAMP = re.compile(r"-(\d{8}-\d{6})(?:-\d+)?$")  # <name>-YYYYmmdd-HHMMSS[-k]
LM_OR_CLASSIFIER = ("val_ppl", "dev_acc")  # key metrics of runs whose summary names none


def run_folders(parent: Path) -> list[Run]:
    """The run folders directly under `parent`, or a sweep folder's runs."""
    parent = Path(parent)
    if not parent.is_dir():
        raise RnnlabError(f"{parent} is not a folder of runs")
    if (parent / "sweep.yaml").is_file():
        parent = parent / "runs"
    return [Run(p.parent) for p in parent.glob("*/config.yaml")]


def list_runs(parent: Path) -> list[dict]:
    """One row per run under `parent`, and per sweep folder there (or in its sweeps/),
    newest first."""
    rows = [run_row(run) for run in run_folders(parent)]
    if not (Path(parent) / "sweep.yaml").is_file():
        rows += [sweep_row(folder) for folder in sweep_folders(Path(parent))]
    return sorted(rows, key=lambda row: row["started"] or "", reverse=True)


def sweep_folders(parent: Path) -> list[Path]:
    found = [p.parent for p in parent.glob("*/sweep.yaml")]
    return found + [p.parent for p in parent.glob("sweeps/*/sweep.yaml")]


def sweep_row(folder: Path) -> dict:
    """A sweep as one row: its cells (grid points x seeds, or trials), how many finished
    (and failed, ...), the best key metric among them."""
    runs = [run_row(run) for run in run_folders(folder)]
    counts: dict[str, int] = {}
    for row in runs:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    cells = planned_cells(folder) or len(runs)
    done = counts.get("finished", 0)
    others = ", ".join(
        f"{n} {status}" for status, n in sorted(counts.items()) if status != "finished"
    )
    key = next((r["key_metric"] for r in runs if r["key_metric"]), None)
    values = [
        r["best"] for r in runs if r["key_metric"] == key and isinstance(r["best"], (int, float))
    ]
    best = (max if key and key.endswith("acc") else min)(values) if values else None
    return {
        "name": f"{folder.name}/",
        "kind": "sweep",
        "status": f"sweep {done}/{cells} finished" + (f", {others}" if others else ""),
        "cells": cells,
        "key_metric": key,
        "best": best,
        "best_epoch": None,
        "epochs": None,
        "wall_s": sum(r["wall_s"] or 0 for r in runs) or None,
        "started": started(Run(folder)),
        "path": str(folder),
    }


def planned_cells(folder: Path) -> int | None:
    """The runs a sweep asked for (sweep.yaml): its grid's points times its seeds, or its
    trials; None when the file does not say."""
    from rnnlab.config.load import read_yaml

    try:
        asked = read_yaml(folder / "sweep.yaml")
    except RnnlabError:
        return None
    if isinstance(asked.get("trials"), int):
        return asked["trials"]
    grid, seeds = asked.get("grid"), asked.get("seeds")
    if not isinstance(grid, dict):
        return None
    cells = 1
    for values in grid.values():
        cells *= len(values) if isinstance(values, list) else 1
    return cells * (len(seeds) if isinstance(seeds, list) and seeds else 1)


def run_row(run: Run) -> dict:
    summary = run.read_summary()
    best = summary.get("best")
    if not isinstance(best, dict):
        best = {}
    metrics = [] if summary else run.read_metrics()
    key = summary.get("key_metric")
    if not isinstance(key, str):
        found = [k for k in LM_OR_CLASSIFIER if k in best or any(k in r for r in metrics)]
        key = found[0] if found else None
    value = best.get(key) if key else None
    if value is None and key and metrics:
        values = [r[key] for r in metrics if isinstance(r.get(key), (int, float))]
        value = (max if key.endswith("acc") else min)(values) if values else None
    epochs = epochs_run(summary)
    if epochs is None and metrics:
        epochs = max((r.get("epoch") or 0 for r in metrics), default=None)
    return {
        "name": run.dir.name,
        "kind": "run",
        "status": summary.get("status") or "running?",
        "key_metric": key,
        "best": value,
        "best_epoch": best.get("epoch"),
        "epochs": epochs,
        "wall_s": summary.get("wall_s"),
        "started": started(run),
        "path": str(run.dir),
    }


def epochs_run(summary: dict) -> int | None:
    """Epochs the run trained in, a partial last one counted (a run stopped mid-epoch by
    its time limit has summary `epochs` 0 but evaluated, and may be best, at epoch 1)."""
    whole = summary.get("epochs")
    seen = [whole] + [(summary.get(k) or {}).get("epoch") for k in ("final", "best", "at")]
    numbers = [n for n in seen if isinstance(n, int) and not isinstance(n, bool)]
    return max(numbers) if numbers else None


def started(run: Run) -> str | None:
    """When the run began, 'YYYY-mm-dd HH:MM:SS': from its folder name's stamp, else the
    oldest file at its top level (a sweep's runs are named by their point)."""
    match = STAMP.search(run.dir.name)
    if match:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.strptime(match.group(1), "%Y%m%d-%H%M%S"))
    try:
        first = min(p.stat().st_mtime for p in run.dir.iterdir() if p.is_file())
    except (OSError, ValueError):
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(first))
