"""`rnnlab sweep CFG --search random|optuna --trials N`: sample `sweep.space` instead of
walking a grid. Every trial is an ordinary run (`runs/trial-007/`) started by the sweep's
executor (local processes or Ray), and results.csv, the plots, `rnnlab compare` and
`--resume` work on the folder as on a grid sweep's.

- random: trial k draws its values from the seed and k alone (`space.draw`), so the trials
  are planned up front and run by the grid machinery (`runner.run_sweep`).
- optuna: the study is an SQLite file in the sweep folder (Optuna's RDB storage). The
  sweep asks it for as many trials as run at once (`workers`), starts them, and tells it
  each outcome; each run reports its evaluations to its trial through the same file (the
  training callback `optuna_pruning`, told the trial in its environment), so the pruner
  (median; hyperband or asha) stops poor runs as they go: `status: pruned`. The objective
  is the sweep metric (default: the best validation metric), minimised or maximised as the
  task says. `--resume` reopens the study; a trial stopped mid-run (killed, failed or
  interrupted) continues from its run's last.pt as the same trial; one without a last.pt
  (or that diverged) is marked failed and asked again with the same values; finished ones
  are never repeated.

The sweep never imports training: it talks to runs through their folders and the study.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from rnnlab.config import config_to_dict, dump_config, load_config
from rnnlab.data import DATASETS, TextCorpus
from rnnlab.errors import RnnlabError
from rnnlab.runs import new_folder
from rnnlab.runs.fileio import write_atomic
from rnnlab.tasks import check_config

from .grid import Point
from .jobs import ExecutorSettings
from .runner import check_points
from .space import check_space, corners, draw, parse_space_options

INSTALL = "pip install 'rnnlab[optuna]'"
__all__ = [
    "Search",
    "is_search",
    "parse_space_options",
    "plan_search",
    "reopen_search",
]


@dataclass(frozen=True)
class Trial(Point):
    """One trial of a search: its values, the config's seed, and its number."""

    number: int = 0

    @property
    def name(self) -> str:
        return f"trial-{self.number:03d}"


@dataclass
class Search:
    """A search's plan (sweep.yaml), and the grid-sweep attributes the runner reads."""

    dir: Path
    name: str
    kind: str  # random | optuna
    space: dict  # as given: {key: {kind: values}}
    trials: int
    workers: int
    metric: str  # the objective: a results.csv column, e.g. best_dev_acc
    direction: str  # maximize | minimize
    pruner: str  # median | hyperband | asha | none
    seed: int
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    points: list = field(default_factory=list)  # random: every trial, planned up front
    grid: dict = field(default_factory=dict)  # the values tried per key (plots' x axes)

    @property
    def base_path(self) -> Path:
        return self.dir / "base.yaml"

    @property
    def storage(self) -> str:
        return f"sqlite:///{(self.dir / 'study.db').resolve()}"

    def run_dir(self, point: Point) -> Path:
        return self.dir / "runs" / point.name


def is_search(sweep_dir: Path) -> bool:
    """Whether the sweep folder holds a search (its sweep.yaml names one)."""
    try:
        asked = yaml.safe_load((Path(sweep_dir) / "sweep.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(asked, dict) and asked.get("search") in ("random", "optuna")


def plan_search(config: Path, overrides: list[str], kind: str | None, space: dict,
                trials: int | None, workers: int | None, metric: str | None, out: Path,
                executor: ExecutorSettings | None = None) -> Search:  # fmt: skip
    """Check the space and the configs at its corners, then create the sweep folder."""
    base = check_config(load_config(config, overrides))
    kind = kind or base.sweep.search
    if kind not in ("random", "optuna"):
        raise RnnlabError(f"--search must be random or optuna (a grid is --grid), got {kind!r}")
    raw_space = {**base.sweep.space, **space}
    checked = check_space(raw_space)
    check_points(
        config_to_dict(base), [Point(tuple(c.items()), base.seed) for c in corners(checked)]
    )
    if kind == "optuna":
        import_optuna()
    trials = trials if trials is not None else base.sweep.trials
    if trials < 1:
        raise RnnlabError(f"--trials must be >= 1, got {trials}")
    metric, direction = objective(base, metric or base.sweep.metric)
    search = Search(new_folder(out, base.name), base.name, kind, raw_space, trials,
                    workers or base.sweep.workers, metric, direction, base.sweep.pruner,
                    base.seed, executor or ExecutorSettings())  # fmt: skip
    asked = {"config": str(config), "overrides": list(overrides), "search": kind,
             "space": raw_space, "trials": trials, "workers": search.workers, "metric": metric,
             "direction": direction, "pruner": search.pruner, "seed": search.seed,
             "executor": asdict(search.executor)}  # fmt: skip
    write_atomic(search.dir / "sweep.yaml", yaml.safe_dump(asked, sort_keys=False))
    write_atomic(search.base_path, dump_config(base))
    return _with_points(search)


def reopen_search(sweep_dir: Path, workers: int | None) -> Search:
    """The search in `sweep_dir` as it was asked, for --resume."""
    asked = yaml.safe_load((Path(sweep_dir) / "sweep.yaml").read_text())
    base = load_config(Path(sweep_dir) / "base.yaml")
    try:
        search = Search(Path(sweep_dir), base.name, asked["search"], asked["space"],
                        int(asked["trials"]), workers or int(asked["workers"]), asked["metric"],
                        asked["direction"], asked["pruner"], int(asked["seed"]),
                        ExecutorSettings(**(asked.get("executor") or {})))  # fmt: skip
    except (KeyError, TypeError, ValueError):
        raise RnnlabError(
            f"{sweep_dir}/sweep.yaml is not what rnnlab sweep --search writes"
        ) from None
    check_space(search.space)
    if search.kind == "optuna":
        import_optuna()
    return _with_points(search)


def _with_points(search: Search) -> Search:
    if search.kind == "random":
        space = check_space(search.space)
        search.points = [Trial(tuple(draw(space, search.seed, k).items()), search.seed, k)
                         for k in range(search.trials)]  # fmt: skip
        search.grid = tried_values([dict(p.values) for p in search.points], search.space)
    return search


def objective(cfg, metric: str | None) -> tuple[str, str]:
    """(results.csv column, direction): the sweep metric, by default the best validation
    metric of the task (best_dev_acc: maximize; best_val_ppl: minimize)."""
    if metric is None:
        classifier = not issubclass(DATASETS.get(cfg.data.dataset), TextCorpus)
        return ("best_dev_acc", "maximize") if classifier else ("best_val_ppl", "minimize")
    return metric, "maximize" if "acc" in metric else "minimize"


def tried_values(values: list[dict], space: dict) -> dict:
    """{key: the distinct values tried, sorted}: what the sweep plots use as a grid."""
    grid = {}
    for key in space:
        seen = list(dict.fromkeys(v[key] for v in values if key in v))
        try:
            grid[key] = sorted(seen)
        except TypeError:
            grid[key] = seen
    return grid


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise RnnlabError(
            f"--search optuna needs Optuna, which is not installed: {INSTALL}"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna
