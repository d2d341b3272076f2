"""The `rnnlab` command line: train, predict, gen-data here; sweep and compare in
`rnnlab/cli/sweep.py`. Commands are thin: they parse options and call into the package;
`rnnlab/cli/boundary.py` turns every user error into one line on stderr and exit code 2.

Nothing here imports torch at module level, so `rnnlab --help` and config errors are fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlab.cli import memory
from rnnlab.cli.boundary import OneLineUsageErrors, check_checkpoint, user_errors
from rnnlab.cli.complete import complete_config, complete_run
from rnnlab.cli.config import config_app
from rnnlab.cli.evaluate import evaluate
from rnnlab.cli.export import export
from rnnlab.cli.inspect import inspect
from rnnlab.cli.plugins import PluginOption, import_given, with_plugins
from rnnlab.cli.runs import runs
from rnnlab.cli.sweep import compare, sweep
from rnnlab.cpus import choose_threads, parse_threads, prepare_environment
from rnnlab.errors import RnnlabError

THREADS_HELP = "CPU threads: auto (usable cores less other load) or N (config `threads`)."
MIN_TEMPERATURE = 1e-3  # logits (|z| up to ~1e3) / T stay far from float32's 3.4e38

app = typer.Typer(
    cls=OneLineUsageErrors,
    help="rnnlab: train, sample and compare recurrent neural networks from YAML configs.",
    no_args_is_help=True,
    add_completion=True,  # rnnlab --install-completion (completers: rnnlab/cli/complete.py)
    pretty_exceptions_enable=False,
)


@app.command()
@user_errors
def train(
    config: Annotated[
        Optional[Path],
        typer.Argument(
            help="YAML config, e.g. configs/gru_timemachine.yaml (not with --resume).",
            autocompletion=complete_config,
        ),
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
        typer.Option(
            help="Run folder to continue from its last.pt (train.epochs=N extends it).",
            autocompletion=complete_run,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Print only the run folder at the end.")] = False,
    tensorboard: Annotated[
        bool, typer.Option(help="Also write TensorBoard event files (train.tensorboard=true).")
    ] = False,
    threads: Annotated[Optional[str], typer.Option(help=THREADS_HELP)] = None,
    plugin: PluginOption = None,
) -> None:
    """Train a model from a config, or continue a stopped run (--resume).

    Prints the run folder when done. Ctrl-C, SIGTERM or SIGHUP saves last.pt after the
    current step and writes summary.json (exit 130/143/129); more signals during that stop
    are absorbed."""
    from rnnlab.training.interrupt import Interrupted, stop_signals

    with stop_signals() as gate:  # the one line is printed while later signals are absorbed
        try:
            extra = ["train.tensorboard=true"] if tensorboard else []
            if threads is not None:
                extra.append(f"threads={parse_threads(threads)}")
            if resume is not None:
                import_given(plugin)  # the run's config names the plug-ins it was made with
            else:
                extra = with_plugins(config, extra, plugin)
            run = _train_or_resume(
                config, [*(overrides or []), *extra], out, run_dir, resume, quiet
            )
        except (Interrupted, KeyboardInterrupt) as err:  # one line, no traceback
            stop = gate.stopped_by(err)
            typer.echo(stop.message(), err=True)
            raise typer.Exit(stop.exit_code) from None
    typer.echo(str(run.dir))


def _train_or_resume(config, overrides: list[str], out, run_dir, resume, quiet: bool):
    from rnnlab.config import load_config
    from rnnlab.runs.progress import Reporter
    from rnnlab.tasks import check_config

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
        from rnnlab.training.resume import resume as resume_run

        return resume_run(resume, given + overrides, reporter)
    if config is None:
        raise RnnlabError("give a config to train, or --resume RUN_DIR to continue a run")
    cfg = check_config(load_config(config, overrides))
    prepare_environment(choose_threads(cfg.threads))  # before torch: OMP_WAIT_POLICY
    from rnnlab.tasks import config_warnings  # torch from here on: the config is good
    from rnnlab.training.session import train as run_training

    for warning in config_warnings(cfg):
        typer.echo(f"warning: {warning}", err=True)

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
        Optional[Path],
        typer.Option(
            help="Run folder; default: the newest under runs/ that takes the input.",
            autocompletion=complete_run,
        ),
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
    stop_at_eos: Annotated[
        bool, typer.Option(help="Word models with <eos>: end the text at the first <eos>.")
    ] = False,
    threads: Annotated[str, typer.Option(help=THREADS_HELP)] = "auto",
    plugin: PluginOption = None,
) -> None:
    """Continue a prefix with a language model, or label a text with a classifier.

    Word models take words separated by spaces; a classifier takes a text (--text) or a
    digit sequence (--seq) and prints the label and its probability."""
    _check_predict_options(num_chars, temperature, top_k, checkpoint, seed)
    import_given(plugin)
    options = {"--prefix": prefix, "--text": text, "--seq": seq}
    given = {option: value for option, value in options.items() if value is not None}
    if len(given) != 1:
        raise RnnlabError(
            "give exactly one of --prefix (language models), --text or --seq (classifiers)"
        )
    ((option, value),) = given.items()
    from rnnlab.cli.pick import pick_run

    run_dir = pick_run(run, option)  # without --run: the newest run that `option` feeds
    from rnnlab.inference.predict import check_option
    from rnnlab.inference.predict import predict as run_predict
    from rnnlab.tasks import Sampling

    check_option(run_dir, option)  # the run's task says which option feeds it
    from rnnlab.device import set_threads

    set_threads(parse_threads(threads))
    sampling = Sampling(num_chars, temperature, top_k, seed, stop_at_eos)
    for piece in run_predict(run_dir, value, checkpoint, sampling):  # printed as generated
        typer.echo(piece, nl=False)
    typer.echo("")


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
    """Write nndl's DigitSum data sets.

    One example a line: digits, a tab, the sum of the first two."""
    try:
        parsed = [int(part) for part in lengths.split(",")]
    except ValueError:
        raise RnnlabError(
            f"--lengths must be comma-separated integers, e.g. 5,10,15; got {lengths!r}"
        ) from None
    from rnnlab.data.digitsum import write_lengths
    from rnnlab.data.safe_read import MAX_DATA_BYTES_ENV, max_data_bytes

    size = sum(100 * max(k_train, k_eval, 0) * (2 * max(n, 0) + 4) for n in parsed)  # bytes
    if size > max_data_bytes():  # bounded before the work, like every data file
        raise RnnlabError(
            f"--k-train {k_train} / --k-eval {k_eval} would write about {size:,} bytes, over "
            f"the {max_data_bytes():,}-byte bound for data ({MAX_DATA_BYTES_ENV})"
        )
    write_lengths(out, parsed, k_train, k_eval, seed)
    for length in parsed:
        typer.echo(
            f"{out / str(length)}: train {100 * k_train}, dev {100 * k_eval}, test {100 * k_eval} examples"
        )


gen_data.command("adding")(memory.gen_adding)
gen_data.command("copy")(memory.gen_copy)
gen_data.command("selective-copy")(memory.gen_selective_copy)
gen_data.command("recall")(memory.gen_recall)
gen_data.command("digits")(memory.gen_digits)
gen_data.command("mnist1d")(memory.gen_mnist1d)


def _check_predict_options(num_chars: int, temperature: float, top_k, checkpoint: str, seed: int):
    if num_chars < 0:
        raise RnnlabError(f"--num-chars must be >= 0, got {num_chars}")
    if not math.isfinite(temperature) or temperature < 0:
        raise RnnlabError(f"--temperature must be >= 0 and finite, got {temperature}")
    if 0 < temperature < MIN_TEMPERATURE:
        raise RnnlabError(
            f"--temperature {temperature:g} is below {MIN_TEMPERATURE}: the logits divided by "
            f"it overflow float32 (NaN probabilities) long before it samples differently from "
            f"greedy; use --temperature 0 for greedy"
        )
    if top_k is not None and top_k < 1:
        raise RnnlabError(f"--top-k must be >= 1, got {top_k}")
    if top_k is not None and temperature == 0:
        raise RnnlabError(
            "--top-k samples among the k most likely tokens: give --temperature > 0 too "
            "(e.g. --temperature 1); with temperature 0 the choice is greedy"
        )
    check_checkpoint(checkpoint)
    if not 0 <= seed < 2**63:
        raise RnnlabError(f"--seed must be >= 0 (and < 2**63), got {seed}")


app.command()(sweep)
app.command()(compare)
app.command()(inspect)
app.command()(evaluate)
app.add_typer(config_app, name="config")
app.command()(runs)
app.command()(export)


def main() -> None:
    app(prog_name="rnnlab")


if __name__ == "__main__":
    main()  # the console script and `python -m rnnlab` go through rnnlab/__main__.py
