"""The `rnnlab` command line. Commands are thin: they parse options, call into the
package, and turn an `RnnlabError` into one line on stderr and exit code 2.

Nothing here imports torch at module level, so `rnnlab --help` and config errors are fast.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlab.errors import RnnlabError

app = typer.Typer(
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
    config: Annotated[Path, typer.Argument(help="YAML config, e.g. configs/gru_timemachine.yaml")],
    overrides: Annotated[
        Optional[list[str]],
        typer.Argument(help="KEY=VALUE overrides, e.g. model.hidden_size=128 optim.lr=0.5"),
    ] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of the run folder.")] = Path("runs"),
    quiet: Annotated[bool, typer.Option(help="Print only the run folder at the end.")] = False,
) -> None:
    """Train a model from a config; prints the run folder when done."""
    from rnnlab.config import load_config

    cfg = load_config(config, overrides or [])
    from rnnlab.progress import Reporter
    from rnnlab.train import train as run_training

    run = run_training(cfg, out, Reporter(quiet=quiet))
    typer.echo(str(run.dir))


@app.command()
@user_errors
def predict(
    prefix: Annotated[str, typer.Option(help="Text to continue, e.g. 'time traveller'.")],
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
    """Continue a prefix with a trained language model."""
    _check_predict_options(num_chars, temperature, top_k, checkpoint)
    from rnnlab.runs import newest_run

    run_dir = run or newest_run(Path("runs"))
    from rnnlab.predict import continue_text

    typer.echo(continue_text(run_dir, prefix, num_chars, checkpoint, temperature, top_k, seed))


def _check_predict_options(num_chars: int, temperature: float, top_k, checkpoint: str) -> None:
    if num_chars < 0:
        raise RnnlabError(f"--num-chars must be >= 0, got {num_chars}")
    if temperature < 0:
        raise RnnlabError(f"--temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise RnnlabError(f"--top-k must be >= 1, got {top_k}")
    if checkpoint not in ("best", "last"):
        raise RnnlabError(f"--checkpoint must be best or last, got {checkpoint!r}")


def main() -> None:
    app(prog_name="rnnlab")


if __name__ == "__main__":
    sys.exit(main())
