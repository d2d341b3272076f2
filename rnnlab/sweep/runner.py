"""`rnnlab sweep`: plan a sweep (or reopen one to resume), run its points, collect results.

runs/sweeps/<name>-<YYYYmmdd-HHMMSS>/
    sweep.yaml      what was asked: config, overrides, grid, seeds, workers, metric, executor
    base.yaml       the resolved config every run starts from
    runs/<point>/   one ordinary run folder per point
    logs/<point>.log
    attempts/       folders of unfinished runs that were redone (--resume, or a Ray retry)
    results.csv     one row per run: swept values, seed, status, metrics, wall time
    plots/<metric>.png
"""

from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Protocol

import yaml

from rnnlab.config import config_from_dict, config_to_dict, dump_config, load_config
from rnnlab.config.limits import load_yaml, read_config_text
from rnnlab.config.load import parse_overrides, set_dotted
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run, new_folder
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.lock import locked
from rnnlab.tasks import check_config

from .executors import make_executor
from .grid import Point, check_size, expand
from .jobs import (
    ExecutorSettings,
    Job,
    Outcome,
    continues,
    keep_attempt,
    resume_overrides,
    set_aside,
)
from .results import flatten_summary, pick_metric, plot_sweep, write_results


class Plan(Protocol):
    """What running points reads: a grid `Sweep`, or a random or Optuna `Search`."""

    @property
    def dir(self) -> Path: ...
    @property
    def name(self) -> str: ...
    @property
    def grid(self) -> dict: ...
    @property
    def workers(self) -> int: ...
    @property
    def metric(self) -> str | None: ...
    @property
    def points(self) -> list[Point]: ...
    @property
    def executor(self) -> ExecutorSettings: ...
    @property
    def base_path(self) -> Path: ...
    def run_dir(self, point: Point) -> Path: ...


@dataclass
class Sweep:
    dir: Path
    name: str
    grid: dict[str, list]
    seeds: list[int]
    workers: int
    metric: str | None
    points: list[Point]
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)

    @property
    def base_path(self) -> Path:
        return self.dir / "base.yaml"

    def run_dir(self, point: Point) -> Path:
        return self.dir / "runs" / point.name


def plan_sweep(config: Path, overrides: list[str], grid: dict, seeds: list[int] | None,
               workers: int | None, metric: str | None, out: Path,
               executor: ExecutorSettings | None = None,
               max_runs: int | None = None) -> Sweep:  # fmt: skip
    """Check every point's config, then create the sweep folder; nothing runs yet. A grid
    of more than `max_runs` runs is refused before it is expanded (--max-runs consents)."""
    base = check_config(load_config(config, overrides))
    grid = {**base.sweep.grid, **grid}
    if not grid:
        raise RnnlabError("nothing to sweep: give --grid KEY=V1,V2 or a sweep.grid in the config")
    if "seed" in grid:
        raise RnnlabError("sweep seeds with --seeds 0,1,2 (or sweep.seeds), not a grid over 'seed'")
    seeds = seeds or base.sweep.seeds or [base.seed]
    check_size(grid, seeds, max_runs)
    points = expand(grid, seeds)
    check_points(config_to_dict(base), points)
    sweep_dir = new_folder(out, base.name)
    sweep = Sweep(sweep_dir, base.name, grid, seeds, workers or base.sweep.workers,
                  metric or base.sweep.metric, points, executor or ExecutorSettings())  # fmt: skip
    asked = {"config": str(config), "overrides": list(overrides), "grid": grid, "seeds": seeds,
             "workers": sweep.workers, "metric": sweep.metric,
             "executor": asdict(sweep.executor)}  # fmt: skip
    write_atomic(sweep_dir / "sweep.yaml", yaml.safe_dump(asked, sort_keys=False))
    write_atomic(sweep.base_path, dump_config(base))
    return sweep


def reopen_sweep(sweep_dir: Path, workers: int | None) -> Sweep:
    """The sweep in `sweep_dir`, as it was asked, for --resume."""
    try:
        path = Path(sweep_dir) / "sweep.yaml"
        if not path.is_file():
            raise FileNotFoundError(path)
        asked = load_yaml(read_config_text(path), str(path))
        base = load_config(Path(sweep_dir) / "base.yaml")
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        raise RnnlabError(f"{sweep_dir} is not a sweep folder (no readable sweep.yaml)") from None
    _check_asked(asked, Path(sweep_dir) / "sweep.yaml")
    points = expand(asked["grid"], asked["seeds"])
    executor = ExecutorSettings(**(asked.get("executor") or {}))  # older sweeps: local
    return Sweep(Path(sweep_dir), base.name, asked["grid"], asked["seeds"],
                 workers or asked["workers"], asked.get("metric"), points, executor)  # fmt: skip


def _check_asked(asked, path: Path) -> None:
    """sweep.yaml as `plan_sweep` writes it (a hand-edited one may not be)."""
    shapes: dict[str, type | tuple[type, ...]] = {
        "grid": dict,
        "seeds": list,
        "workers": int,
        "executor": (dict, type(None)),
    }
    if not isinstance(asked, dict) or any(
        not isinstance(asked.get(key), shape) for key, shape in shapes.items()
    ):
        raise RnnlabError(f"{path} is not what rnnlab sweep writes (grid, seeds, workers, ...)")
    known = {f.name for f in fields(ExecutorSettings)}
    unknown = sorted(set(asked["executor"] or {}) - known)
    if unknown:
        raise RnnlabError(f"{path}: unknown executor setting '{unknown[0]}'")


def check_points(base: dict, points: list[Point]) -> None:
    """Build every point's config before anything runs, so a bad grid fails at once."""
    for point in points:
        raw = copy.deepcopy(base)
        try:
            for key, value in parse_overrides(point.overrides()).items():
                set_dotted(raw, key, value)
            check_config(config_from_dict(raw))
        except RnnlabError as err:
            raise RnnlabError(f"sweep point {point.name}: {err}") from None


def run_sweep(sweep: Plan, reporter, gpus: int = 0) -> dict[str, int]:
    """Run every point not yet finished with the sweep's executor (`gpus`: this machine's,
    for the local one); return the count of runs by status. Holds the sweep folder's
    lock throughout: a second `sweep --resume` of a live sweep is refused in one line."""
    with locked(sweep.dir, "sweep folder"):
        return _run_locked(sweep, reporter, gpus)


def _run_locked(sweep: Plan, reporter, gpus: int) -> dict[str, int]:
    rows = {p.name: _row(sweep, p) for p in sweep.points}
    todo = [p for p in sweep.points if rows[p.name]["status"] != "finished"]
    resumable = {p.name for p in todo if _resumable(sweep, p)}
    for point in todo:
        if point.name not in resumable:
            _set_aside(sweep, point)
        elif rows[point.name]["status"] != "interrupted":  # failed or killed: keep its record
            keep_attempt(sweep.run_dir(point), sweep.dir / "attempts", _log(sweep, point))
    lock = threading.Lock()
    reporter.start(len(sweep.points), done=len(sweep.points) - len(todo))

    def on_done(job: Job, outcome: Outcome) -> None:
        point = next(p for p in todo if p.name == job.name)
        with lock:
            rows[job.name] = _row(sweep, point, outcome)
            _write(sweep, list(rows.values()))
            reporter.run_done(rows[job.name], pick_metric(list(rows.values()), sweep.metric))

    jobs = [_job(sweep, p, p.name in resumable) for p in todo]
    try:
        make_executor(sweep.executor, sweep.workers, gpus).run(jobs, on_done)
    finally:
        reporter.stop()
        with lock:
            _write(sweep, list(rows.values()))
    counts: dict[str, int] = {}
    for row in rows.values():
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _job(sweep: Plan, point: Point, resume: bool = False) -> Job:
    log = _log(sweep, point)
    overrides = _resume_overrides(sweep, point) if resume else point.overrides()
    return Job(point.name, sweep.base_path, overrides, sweep.run_dir(point), log,
               sweep.dir / "attempts", resume=resume)  # fmt: skip


def _resume_overrides(sweep: Plan, point: Point) -> list[str]:
    return resume_overrides(sweep.base_path, point.overrides(), sweep.run_dir(point))


def _resumable(sweep: Plan, point: Point) -> bool:
    return continues(sweep.run_dir(point))


def _log(sweep: Plan, point: Point) -> Path:
    return sweep.dir / "logs" / f"{point.name}.log"


def _row(sweep: Plan, point: Point, outcome: Outcome | None = None) -> dict:
    """results.csv's row for a point: from its run's summary.json, else its outcome."""
    run = Run(sweep.run_dir(point))
    summary = run.read_summary() if run.summary_path.is_file() else {}
    status = summary.get("status") or (outcome.status if outcome else "pending")
    if outcome and outcome.status != "finished" and status not in ("finished", "pruned"):
        status = outcome.status  # the folder is the truth: a finished run stays finished
    row = {"run": point.name, **dict(point.values), "seed": point.seed, "status": status,
           "error": outcome.error if outcome else summary.get("error", "")}  # fmt: skip
    row.update(flatten_summary(summary))
    row["wall_s"] = round(outcome.wall_s, 2) if outcome else summary.get("wall_s")
    return row


def _write(sweep: Plan, rows: list[dict]) -> None:
    write_results(sweep.dir / "results.csv", rows)
    metric = pick_metric(rows, sweep.metric)
    if metric:
        title = f"{sweep.name}: {metric} against {list(sweep.grid)[0]}"
        baseline = memoryless_baseline(sweep.base_path, sweep.grid, metric)
        plot_sweep(sweep.dir / "plots" / f"{metric}.png", rows, sweep.grid, metric, title, baseline)


def memoryless_baseline(base_path: Path, grid: dict, metric: str) -> dict | None:
    """A memory task's memoryless baseline of `metric` (docs/memory.md): per length when the
    sweep's first key is data.length, else one value ({None: value}); None for others."""
    from rnnlab.data.memory import baseline_for

    try:
        cfg = load_config(base_path)
    except RnnlabError:
        return None
    key = list(grid)[0]
    if key == "data.length":
        values = {x: baseline_for(cfg, metric, x) for x in grid[key]}
        return {x: v for x, v in values.items() if v is not None} or None
    value = baseline_for(cfg, metric, cfg.data.length)
    return None if value is None else {None: value}


def _set_aside(sweep: Plan, point: Point) -> None:
    """Keep a failed or interrupted run's folder under attempts/ before it is redone."""
    set_aside(sweep.run_dir(point), sweep.dir / "attempts")
