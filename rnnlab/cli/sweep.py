"""`rnnlab sweep` and `rnnlab compare`: many runs at once, and runs side by side. Registered
on the app in `rnnlab/cli/__init__.py`; like every command, thin and free of torch at import."""

from __future__ import annotations

from pathlib import Path
from shlex import quote
from typing import Annotated, Optional

import typer

from rnnlab.cli.boundary import user_errors
from rnnlab.cli.complete import complete_config, complete_run
from rnnlab.cli.plugins import PluginOption, import_given, with_plugins
from rnnlab.errors import RnnlabError


@user_errors
def sweep(
    config: Annotated[
        Optional[Path],
        typer.Argument(
            help="Base YAML config (not needed with --resume).", autocompletion=complete_config
        ),
    ] = None,
    overrides: Annotated[
        Optional[list[str]], typer.Argument(help="KEY=VALUE overrides applied to every run.")
    ] = None,
    grid: Annotated[
        Optional[list[str]],
        typer.Option(help="KEY=V1,V2,... to sweep; repeat for a cartesian product."),
    ] = None,
    seeds: Annotated[
        Optional[str], typer.Option(help="Seeds, e.g. 0,1,2: every grid point once per seed.")
    ] = None,
    workers: Annotated[
        Optional[int], typer.Option(help="Runs at once (CPU threads and GPUs divided).")
    ] = None,
    out: Annotated[
        Path,
        typer.Option(help="Parent of the sweep folder (with ray: absolute, shared by the nodes)."),
    ] = Path("runs/sweeps"),
    resume: Annotated[
        Optional[Path],
        typer.Option(
            help="Sweep folder to finish: redo failed/interrupted runs.",
            autocompletion=complete_run,
        ),
    ] = None,
    metric: Annotated[
        Optional[str],
        typer.Option(help="results.csv column to plot (default: test_acc or best_val_ppl)."),
    ] = None,
    executor: Annotated[
        Optional[str], typer.Option(help="local (processes here, the default) or ray (a cluster).")
    ] = None,
    address: Annotated[
        Optional[str],
        typer.Option(help="Ray: auto or HOST:PORT (default: RAY_ADDRESS, else local)."),
    ] = None,
    gpus_per_run: Annotated[
        Optional[float], typer.Option(help="Ray: GPUs each run takes (default 0; 0.5 shares one).")
    ] = None,
    cpus_per_run: Annotated[
        Optional[int], typer.Option(help="Ray: CPUs (torch threads) each run takes (default 1).")
    ] = None,
    max_retries: Annotated[
        Optional[int], typer.Option(help="Ray: reruns of a run whose worker died (default 3).")
    ] = None,
    search: Annotated[
        Optional[str],
        typer.Option(
            help="random or optuna: sample sweep.space instead of a grid (docs/tools.md)."
        ),
    ] = None,
    trials: Annotated[
        Optional[int], typer.Option(help="Search: runs to sample (default sweep.trials, 20).")
    ] = None,
    space: Annotated[
        Optional[list[str]],
        typer.Option(help="Search: KEY=KIND:V1,V2 (log_uniform, uniform, int, choice); repeat."),
    ] = None,
    max_runs: Annotated[
        int, typer.Option(help="Refuse a grid of more runs than this (raise it to consent).")
    ] = 200,
    threads: Annotated[
        Optional[str],
        typer.Option(help="CPU threads per run (default: the cores divided by --workers)."),
    ] = None,
    plugin: PluginOption = None,
) -> None:
    """Run a grid of configs, or a random or Optuna search, as ordinary runs.

    A grid runs every point (and seed); --search samples sweep.space (Optuna with
    pruning). Gathers results.csv and plots."""
    from rnnlab.sweep import parse_grid_options, parse_seeds, plan_sweep, reopen_sweep

    if workers is not None and workers < 1:
        raise RnnlabError(f"--workers must be >= 1, got {workers}")
    if threads is not None:
        from rnnlab.cpus import parse_threads

        if config is None:
            raise RnnlabError("--threads applies to a new sweep (a resumed one keeps its own)")
        overrides = [*(overrides or []), f"threads={parse_threads(threads)}"]
    import_given(plugin)  # a resumed sweep's base config names its own
    if config is not None:
        overrides = with_plugins(config, overrides or [], plugin)
    given = {"name": executor, "address": address, "gpus_per_run": gpus_per_run,
             "cpus_per_run": cpus_per_run, "max_retries": max_retries}  # fmt: skip
    searching = search is not None or trials is not None or bool(space)
    if resume is not None and searching:
        raise RnnlabError("--resume takes the sweep folder only: its search is saved")
    if resume is not None and (config is not None or grid or seeds):
        raise RnnlabError("--resume takes the sweep folder only: its grid and seeds are saved")
    if resume is not None and _is_search(resume):
        from rnnlab.sweep.search import reopen_search

        searched = reopen_search(resume, workers)
        searched.executor = choose_executor(searched.executor, given, workers is not None, resume)
        return _run_search(searched)
    if config is not None and (searching or _config_searches(config, overrides or [])):
        if grid or seeds:
            raise RnnlabError(
                "--grid and --seeds are for grid sweeps; a search samples sweep.space"
            )
        from rnnlab.sweep.search import parse_space_options, plan_search

        settings = choose_executor(None, given, workers is not None, out)
        searched = plan_search(config, overrides or [], search,
                               parse_space_options(space or []), trials, workers, metric, out,
                               settings)  # fmt: skip
        return _run_search(searched)
    if resume is not None:
        plan = reopen_sweep(resume, workers)
        plan.executor = choose_executor(plan.executor, given, workers is not None, resume)
    elif config is None:
        raise RnnlabError("give a config to sweep, or --resume SWEEP_DIR")
    else:
        settings = choose_executor(None, given, workers is not None, out)
        seed_list = parse_seeds(seeds) if seeds else None
        plan = plan_sweep(config, overrides or [], parse_grid_options(grid or []), seed_list,
                          workers, metric, out, settings, max_runs)  # fmt: skip
    _run_sweep(plan)


@user_errors
def compare(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Run folders, sweep folders or runs/.", autocompletion=complete_run),
    ],
    metric: Annotated[
        Optional[str], typer.Option(help="metrics.csv column to compare (default: val metric).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the overlaid curves.")] = Path(
        "compare.png"
    ),
) -> None:
    """Compare runs: a table of their summaries and their curves in one PNG."""
    from rich.console import Console
    from rich.table import Table

    from rnnlab.runs.compare import (
        collect_runs,
        default_metric,
        in_natural_order,
        labels,
        plot_runs,
        table_rows,
    )

    runs = collect_runs(paths)
    runs, names = in_natural_order(runs, labels(runs))
    metric = metric or default_metric(runs)
    rows = table_rows(runs, names, metric)
    table = Table(*dict.fromkeys(k for row in rows for k in row))
    for row in rows:
        table.add_row(*(_cell(row.get(str(c.header))) for c in table.columns))
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a pipe or log file: no wrapping of the table
    console.print(table)
    plot_runs(out, runs, names, metric)
    typer.echo(str(out))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def _run_sweep(plan) -> None:
    from rnnlab.sweep import run_sweep
    from rnnlab.sweep.local import cpu_count

    on_ray = plan.executor.name == "ray"
    if not on_ray and plan.workers > cpu_count():  # more trainings than cores: all slower
        typer.echo(f"warning: --workers {plan.workers} is more than the {cpu_count()} CPUs "
                   f"here: running {cpu_count()} at once", err=True)  # fmt: skip
        plan.workers = cpu_count()
    at_once = "on Ray" if on_ray else f"{plan.workers} at once"
    typer.echo(f"sweep: {plan.dir} ({len(plan.points)} runs, {at_once})")
    _until_done(plan, run_sweep)


def _is_search(sweep_dir: Path) -> bool:
    from rnnlab.sweep.search import is_search

    return is_search(sweep_dir)


def _config_searches(config: Path, overrides: list[str]) -> bool:
    """Whether the config asks for a search (sweep.search: random or optuna)."""
    from rnnlab.config import load_config

    return load_config(config, overrides).sweep.search != "grid"


def _run_search(plan) -> None:
    from rnnlab.sweep.study import run_search

    typer.echo(f"sweep: {plan.dir} ({plan.trials} trials, {plan.kind} search, "
               f"{plan.workers} at once, {plan.direction} {plan.metric})")  # fmt: skip
    _until_done(plan, run_search)


def _until_done(plan, run) -> None:
    """Run a planned sweep or search; the first Ctrl-C, SIGTERM or SIGHUP stops every run
    (last.pt saved), later ones wait; then the counts, the folder, exit 1 if a run failed."""
    from rnnlab.runs.progress import SweepReporter
    from rnnlab.training.interrupt import Interrupted, stop_signals

    gpus = 0 if plan.executor.name == "ray" else _gpu_count()
    with stop_signals() as gate:  # the one line is printed while later signals are absorbed
        try:
            counts = run(plan, SweepReporter(), gpus=gpus)
        except (Interrupted, KeyboardInterrupt) as err:
            stop = gate.stopped_by(err)
            typer.echo(
                f"sweep interrupted; finish it with: rnnlab sweep --resume {quote(str(plan.dir))}",
                err=True,
            )
            raise typer.Exit(stop.exit_code) from None
    typer.echo(", ".join(f"{n} {status}" for status, n in counts.items()))
    typer.echo(str(plan.dir))
    if counts.get("failed"):
        raise typer.Exit(1)


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def choose_executor(stored, given: dict, workers_given: bool,
                    sweep_path: Path):  # fmt: skip
    """The executor a sweep runs with: the options given, over what sweep.yaml stored (on
    --resume), over the defaults. Checks the options and, for Ray, that it is installed and
    that the sweep folder (`sweep_path`: --out or --resume) is absolute."""
    from rnnlab.sweep.jobs import ExecutorSettings

    settings = stored or ExecutorSettings()
    given = {k: v for k, v in given.items() if v is not None}
    for key, value in given.items():
        setattr(settings, key, value)
    if settings.name not in ("local", "ray"):
        raise RnnlabError(f"--executor must be local or ray, got '{settings.name}'")
    ray_only = [f"--{k.replace('_', '-')}" for k in given if k != "name"]
    if settings.name == "local" and ray_only:
        raise RnnlabError(f"{', '.join(ray_only)}: only with --executor ray")
    if settings.name == "local":
        return settings
    if workers_given:
        raise RnnlabError(
            "--workers is for --executor local; on Ray as many runs go at once as the "
            "cluster's CPUs and GPUs fit (--cpus-per-run, --gpus-per-run)"
        )
    for key, low in (("cpus_per_run", 1), ("gpus_per_run", 0), ("max_retries", 0)):
        if getattr(settings, key) < low:
            name = "--" + key.replace("_", "-")
            raise RnnlabError(f"{name} must be >= {low}, got {getattr(settings, key)}")
    from rnnlab.sweep.ray_executor import check_shared_path, import_ray

    check_shared_path(sweep_path, "--resume" if stored else "--out")
    import_ray()
    return settings
