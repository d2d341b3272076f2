"""The `rnnlab` command line. Commands are thin: they parse options, call into the
package, and turn an `RnnlabError` into one line on stderr and exit code 2.

Nothing here imports torch at module level, so `rnnlab --help` and config errors are fast.
"""

from __future__ import annotations

import functools
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from rnnlab.errors import RnnlabError

try:  # typer >= 0.24 carries its own copy of click
    from typer._click import exceptions as usage
except ImportError:
    from click import exceptions as usage


class OneLineUsageErrors(TyperGroup):
    """Click's own usage errors (an unknown option, an option value of the wrong type, a
    missing argument) as one `error:` line and exit code 2, like every other user error."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except usage.NoArgsIsHelpError as err:  # the help is already printed
            sys.exit(err.exit_code)
        except usage.UsageError as err:
            hint = f" (see {err.ctx.command_path} --help)" if err.ctx else ""
            typer.echo(f"error: {err.format_message()}{hint}", err=True)
            sys.exit(2)
        except usage.ClickException as err:
            typer.echo(f"error: {err.format_message()}", err=True)
            sys.exit(err.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineUsageErrors,
    help="rnnlab: train, sample and compare recurrent neural networks from YAML configs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def user_errors(command):
    """The CLI boundary: a user error becomes `error: <one line>` and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RnnlabError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@user_errors
def train(
    config: Annotated[
        Optional[Path],
        typer.Argument(help="YAML config, e.g. configs/gru_timemachine.yaml (not with --resume)."),
    ] = None,
    overrides: Annotated[
        Optional[list[str]],
        typer.Argument(help="KEY=VALUE overrides, e.g. model.hidden_size=128 optim.lr=0.5"),
    ] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of the run folder.")] = Path("runs"),
    run_dir: Annotated[
        Optional[Path], typer.Option(help="Exact run folder to create instead (must not exist).")
    ] = None,
    resume: Annotated[
        Optional[Path],
        typer.Option(help="Run folder to continue from its last.pt (train.epochs=N extends it)."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Print only the run folder at the end.")] = False,
) -> None:
    """Train a model from a config, or continue a stopped run (--resume); prints the run
    folder when done. Ctrl-C or SIGTERM saves last.pt after the current step (exit 130/143)."""
    from rnnlab.interrupt import Interrupted, sigterm_interrupts

    try:
        with sigterm_interrupts():
            run = _train_or_resume(config, overrides or [], out, run_dir, resume, quiet)
    except (Interrupted, KeyboardInterrupt) as err:  # one line, no traceback
        stop = err if isinstance(err, Interrupted) else Interrupted(signal.SIGINT)
        typer.echo(stop.message(), err=True)
        raise typer.Exit(stop.exit_code) from None
    typer.echo(str(run.dir))


def _train_or_resume(config, overrides: list[str], out, run_dir, resume, quiet: bool):
    from rnnlab.config import load_config
    from rnnlab.config.load import config_warnings
    from rnnlab.progress import Reporter

    reporter = Reporter(quiet=quiet)
    if resume is not None:
        given = [str(config)] if config is not None else []
        not_overrides = [arg for arg in given + overrides if "=" not in arg]
        if not_overrides or run_dir is not None:
            what = not_overrides[0] if not_overrides else "--run-dir"
            raise RnnlabError(
                f"--resume takes the run folder and KEY=VALUE overrides only (got {what}): "
                f"the config is the run's own"
            )
        from rnnlab.resume import resume as resume_run

        return resume_run(resume, given + overrides, reporter)
    if config is None:
        raise RnnlabError("give a config to train, or --resume RUN_DIR to continue a run")
    cfg = load_config(config, overrides)
    for warning in config_warnings(cfg):
        typer.echo(f"warning: {warning}", err=True)
    from rnnlab.train import train as run_training

    return run_training(cfg, out, reporter, run_dir)


@app.command()
@user_errors
def predict(
    prefix: Annotated[
        Optional[str],
        typer.Option(help="Language models: text to continue, e.g. 'time traveller'."),
    ] = None,
    text: Annotated[
        Optional[str],
        typer.Option(help="Text classifiers: the text to label, e.g. 'a wonderful film'."),
    ] = None,
    seq: Annotated[
        Optional[str], typer.Option(help="DigitSum classifiers: digits, e.g. '3 5 0 0 0'.")
    ] = None,
    run: Annotated[
        Optional[Path], typer.Option(help="Run folder; default: the newest under runs/.")
    ] = None,
    num_chars: Annotated[
        int,
        typer.Option("--num-chars", "-n", help="Tokens to generate (characters for char models)."),
    ] = 50,
    temperature: Annotated[
        float, typer.Option(help="0 picks the most likely token (greedy); > 0 samples.")
    ] = 0.0,
    top_k: Annotated[
        Optional[int], typer.Option(help="Sample only among the k most likely tokens.")
    ] = None,
    checkpoint: Annotated[str, typer.Option(help="Which checkpoint: best or last.")] = "best",
    seed: Annotated[int, typer.Option(help="Seed for sampling.")] = 0,
) -> None:
    """Continue a prefix with a language model, or label a text or digit sequence with a
    classifier (prints the label and its probability)."""
    _check_predict_options(num_chars, temperature, top_k, checkpoint, seed)
    given = {"--prefix": prefix, "--text": text, "--seq": seq}
    given = {option: value for option, value in given.items() if value is not None}
    if len(given) != 1:
        raise RnnlabError(
            "give exactly one of --prefix (language models), --text or --seq (classifiers)"
        )
    ((option, value),) = given.items()
    from rnnlab.runs import newest_run

    run_dir = run or newest_run(Path("runs"))
    _check_predict_task(run_dir, option)
    from rnnlab.predict import classify, continue_text

    if option == "--prefix":
        typer.echo(continue_text(run_dir, value, num_chars, checkpoint, temperature, top_k, seed))
    else:
        label, probability = classify(run_dir, value, checkpoint)
        typer.echo(f"{label}\t{probability:.4f}")


gen_data = typer.Typer(help="Generate synthetic data sets.", no_args_is_help=True)
app.add_typer(gen_data, name="gen-data")


@gen_data.command("digitsum")
@user_errors
def gen_digitsum(
    lengths: Annotated[str, typer.Option(help="Sequence lengths, comma-separated: 5,10,15")],
    out: Annotated[Path, typer.Option(help="Folder to write <length>/{train,dev,test}.txt into.")],
    k_train: Annotated[int, typer.Option(help="Augmented copies of each digit pair, train.")] = 3,
    k_eval: Annotated[int, typer.Option(help="Augmented copies of each pair, dev and test.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
) -> None:
    """nndl's DigitSum data: one example a line, digits, a tab, the sum of the first two."""
    try:
        parsed = [int(part) for part in lengths.split(",")]
    except ValueError:
        raise RnnlabError(
            f"--lengths must be comma-separated integers, e.g. 5,10,15; got {lengths!r}"
        ) from None
    from rnnlab.data.digitsum import write_lengths

    write_lengths(out, parsed, k_train, k_eval, seed)
    for length in parsed:
        typer.echo(
            f"{out / str(length)}: train {100 * k_train}, dev {100 * k_eval}, test {100 * k_eval} examples"
        )


def _check_predict_options(num_chars: int, temperature: float, top_k, checkpoint: str, seed: int):
    if num_chars < 0:
        raise RnnlabError(f"--num-chars must be >= 0, got {num_chars}")
    if temperature < 0:
        raise RnnlabError(f"--temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise RnnlabError(f"--top-k must be >= 1, got {top_k}")
    if checkpoint not in ("best", "last"):
        raise RnnlabError(f"--checkpoint must be best or last, got {checkpoint!r}")
    if not 0 <= seed < 2**63:
        raise RnnlabError(f"--seed must be >= 0 (and < 2**63), got {seed}")


def _check_predict_task(run_dir: Path, option: str) -> None:
    """The option must suit the run's task (read from its config, without torch)."""
    from rnnlab.config import load_config
    from rnnlab.data import DATASETS
    from rnnlab.runs import Run

    cfg = load_config(Run.open(run_dir).config_path)
    dataset = DATASETS.get(cfg.data.dataset)
    if option != dataset.predict_option:
        kind = "a language model" if dataset.task == "lm" else f"a classifier ({cfg.data.dataset})"
        raise RnnlabError(
            f"{option} does not apply to {run_dir}: it is {kind}; use {dataset.predict_option}"
        )


@app.command()
@user_errors
def sweep(
    config: Annotated[
        Optional[Path], typer.Argument(help="Base YAML config (not needed with --resume).")
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
        Optional[Path], typer.Option(help="Sweep folder to finish: redo failed/interrupted runs.")
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
) -> None:
    """Run a grid of configs (and seeds) as ordinary runs; gather results.csv and plots."""
    from rnnlab.sweep import parse_grid_options, parse_seeds, plan_sweep, reopen_sweep
    from rnnlab.sweep.executor import choose_executor

    if workers is not None and workers < 1:
        raise RnnlabError(f"--workers must be >= 1, got {workers}")
    given = {"name": executor, "address": address, "gpus_per_run": gpus_per_run,
             "cpus_per_run": cpus_per_run, "max_retries": max_retries}  # fmt: skip
    if resume is not None:
        if config is not None or grid or seeds:
            raise RnnlabError("--resume takes the sweep folder only: its grid and seeds are saved")
        plan = reopen_sweep(resume, workers)
        plan.executor = choose_executor(plan.executor, given, workers is not None, resume)
    elif config is None:
        raise RnnlabError("give a config to sweep, or --resume SWEEP_DIR")
    else:
        settings = choose_executor(None, given, workers is not None, out)
        seed_list = parse_seeds(seeds) if seeds else None
        plan = plan_sweep(config, overrides or [], parse_grid_options(grid or []), seed_list,
                          workers, metric, out, settings)  # fmt: skip
    _run_sweep(plan)


@app.command()
@user_errors
def compare(
    paths: Annotated[list[Path], typer.Argument(help="Run folders, sweep folders or runs/.")],
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

    from rnnlab.compare import collect_runs, default_metric, labels, plot_runs, table_rows

    runs = collect_runs(paths)
    names = labels(runs)
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
    from rnnlab.progress import SweepReporter
    from rnnlab.sweep import run_sweep

    on_ray = plan.executor.name == "ray"
    at_once = "on Ray" if on_ray else f"{plan.workers} at once"
    typer.echo(f"sweep: {plan.dir} ({len(plan.points)} runs, {at_once})")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop like Ctrl-C
    try:
        counts = run_sweep(plan, SweepReporter(), gpus=0 if on_ray else _gpu_count())
    except KeyboardInterrupt:
        typer.echo(f"sweep interrupted; finish it with: rnnlab sweep --resume {plan.dir}", err=True)
        raise typer.Exit(130) from None
    typer.echo(", ".join(f"{n} {status}" for status, n in counts.items()))
    typer.echo(str(plan.dir))
    if counts.get("failed"):
        raise typer.Exit(1)


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main() -> None:
    app(prog_name="rnnlab")


if __name__ == "__main__":
    sys.exit(main())
