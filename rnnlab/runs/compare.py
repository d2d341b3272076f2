"""`rnnlab compare`: several runs side by side, labelled by what differs between their
configs; a table of their summaries and their curves overlaid in one PNG."""

from __future__ import annotations

import re
from pathlib import Path

from rnnlab.config.load import flatten_dotted, read_yaml
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run
from rnnlab.runs.listing import epochs_run
from rnnlab.runs.plots import plot_curves

IGNORED = {"name", "sweep"}  # config keys that never tell runs apart


def collect_runs(paths: list[Path]) -> list[Run]:
    """Run folders from run folders, sweep folders and folders of runs (like runs/)."""
    runs: list[Run] = []
    for path in paths:
        if (path / "config.yaml").is_file():
            runs.append(Run(path))
        elif (path / "sweep.yaml").is_file():
            runs += [Run(p.parent) for p in sorted((path / "runs").glob("*/config.yaml"))]
        elif path.is_dir():
            runs += [Run(p.parent) for p in sorted(path.glob("*/config.yaml"))]
        else:
            raise RnnlabError(f"{path} is not a run folder, a sweep folder or a folder of runs")
    if not runs:
        raise RnnlabError(f"no runs found in {', '.join(str(p) for p in paths)}")
    return runs


def labels(runs: list[Run]) -> list[str]:
    """'cell=lstm, length=10' per run: the config values that are not the same for all;
    runs whose configs agree on those are told apart by their folder names."""
    flats = [_flatten(read_yaml(r.config_path)) for r in runs]
    keys = sorted({k for f in flats for k in f})
    differ = [k for k in keys if len({repr(f.get(k)) for f in flats}) > 1]
    if not differ:
        return [r.dir.name for r in runs]
    shorts = [k.split(".")[-1] for k in differ]
    names = shorts if len(set(shorts)) == len(shorts) else differ
    found = [", ".join(f"{n}={f.get(k)}" for n, k in zip(names, differ)) for f in flats]
    return [f"{label} ({run.dir.name})" if found.count(label) > 1 else label
            for label, run in zip(found, runs)]  # fmt: skip


def natural_key(text: str) -> list:
    """'num_steps=5' before 'num_steps=10': numbers in a label compare as numbers."""
    parts = re.split(r"(\d+(?:\.\d+)?(?:e-?\d+)?)", text)
    return [(0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts)]


def in_natural_order(runs: list[Run], names: list[str]) -> tuple[list[Run], list[str]]:
    """The runs and their labels sorted by label, numbers as numbers."""
    order = sorted(range(len(runs)), key=lambda i: natural_key(names[i]))
    return [runs[i] for i in order], [names[i] for i in order]


def default_metric(runs: list[Run]) -> str:
    """The key metric the runs' summary.json names (val_ppl, dev_acc, ...): the one that
    picked their best.pt; train_loss when no run has finished a summary yet."""
    for run in runs:
        key = run.read_summary().get("key_metric")
        if isinstance(key, str):
            return key
    return "train_loss"


def table_rows(runs: list[Run], names: list[str], metric: str) -> list[dict]:
    rows = []
    for run, name in zip(runs, names):
        summary = run.read_summary()
        metrics = run.read_metrics()
        values = [r[metric] for r in metrics if isinstance(r.get(metric), (int, float))]
        best = (summary.get("best") or {}).get(metric)
        rows.append({
            "run": name,
            "status": summary.get("status", "running?"),
            "epochs": epochs_run(summary) if summary else len(metrics),
            f"best {metric}": best if best is not None else best_of(values, summary),
            f"last {metric}": values[-1] if values else None,
            **{f"test {k.removeprefix('test_')}": v for k, v in (summary.get("test") or {}).items()},
            "tokens/s": summary.get("tokens_per_s"),
            "wall s": summary.get("wall_s"),
        })  # fmt: skip
    return rows


def best_of(values: list, summary: dict):
    """The best of a metric's logged values (None if none): the highest where the run's
    summary says higher is better (accuracy), else the lowest (perplexity, loss)."""
    if not values:
        return None
    return max(values) if summary.get("higher_is_better") else min(values)


def plot_runs(path: Path, runs: list[Run], names: list[str], metric: str) -> None:
    """Each run's `metric` curve, merged into one figure via one column per run."""
    merged: dict[int, dict] = {}
    for run, name in zip(runs, names):
        for row in run.read_metrics():
            x = row.get("epoch", row.get("step"))
            if x is not None and row.get(metric) is not None:
                merged.setdefault(x, {"epoch": x})[name] = row[metric]
    rows = [merged[x] for x in sorted(merged)]
    if not rows:
        raise RnnlabError(f"no run has a '{metric}' column in its metrics.csv")
    logy = metric.endswith("ppl") or metric.endswith("loss")
    plot_curves(path, rows, {n: n for n in names}, ylabel=metric, title=f"{metric} by run",
                logy=logy)  # fmt: skip


def _flatten(tree: dict) -> dict:
    """A config's dotted keys, less those that never tell runs apart."""
    flat = flatten_dotted(tree or {})
    return {k: v for k, v in flat.items() if k.split(".")[0] not in IGNORED}
