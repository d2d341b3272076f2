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
    """One row per run under `parent`, newest first."""
    rows = [run_row(run) for run in run_folders(parent)]
    return sorted(rows, key=lambda row: row["started"] or "", reverse=True)


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
    epochs = summary.get("epochs")
    if epochs is None and metrics:
        epochs = max((r.get("epoch") or 0 for r in metrics), default=None)
    return {
        "name": run.dir.name,
        "status": summary.get("status") or "running?",
        "key_metric": key,
        "best": value,
        "best_epoch": best.get("epoch"),
        "epochs": epochs,
        "wall_s": summary.get("wall_s"),
        "started": started(run),
        "path": str(run.dir),
    }


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
