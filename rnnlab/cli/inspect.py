"""`rnnlab inspect RUN...`: gradient flow through time, gate saturation and what single
units track, as figures with their data (the work is in rnnlab/inference/inspect/).
Registered on the app in `rnnlab/cli/__init__.py`; torch is imported only when the command
runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlab.cli.boundary import check_checkpoint, user_errors
from rnnlab.cli.plugins import PluginOption, import_given
from rnnlab.errors import RnnlabError

UNIT = re.compile(r"(\d+):(\d+)")


@user_errors
def inspect(
    runs: Annotated[
        Optional[list[Path]],
        typer.Argument(
            help="Run folder(s); several overlay (--grad-flow); default: the newest under runs/."
        ),
    ] = None,
    checkpoint: Annotated[str, typer.Option(help="Which checkpoint: best or last.")] = "best",
    text: Annotated[
        Optional[str], typer.Option(help="Inspect this text (language and text models).")
    ] = None,
    seq: Annotated[
        Optional[str], typer.Option(help="DigitSum: these digits, e.g. '3 5 0 0'.")
    ] = None,
    split: Annotated[
        Optional[str], typer.Option(help="Inspect a data split: valid (default), train, test.")
    ] = None,
    out: Annotated[
        Optional[Path], typer.Option(help="Folder for the figures; default RUN/inspect/.")
    ] = None,
    unit: Annotated[
        Optional[str],
        typer.Option(help="Language models: colour the page by unit L:K (e.g. 1:17)."),
    ] = None,
    grad_flow: Annotated[
        bool, typer.Option("--grad-flow", help="Only the gradient flow (overlays several runs).")
    ] = False,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N, mps or auto.")] = "cpu",
    plugin: PluginOption = None,
) -> None:
    """Draw why a recurrent network remembers or forgets.

    ||dL/dh_t|| against the distance from the loss (trained and at initialisation), the
    saturation of the cell's sigmoid gates, and for language models a page of what single
    units track (units.html). Prints the folder."""
    import_given(plugin)
    given = {
        k: v for k, v in {"--text": text, "--seq": seq, "--split": split}.items() if v is not None
    }
    if len(given) > 1:
        raise RnnlabError("give at most one of --text, --seq and --split")
    given = given or {"--split": "valid"}
    check_checkpoint(checkpoint)
    if not runs:
        from rnnlab.cli.pick import pick_run

        option = "--seq" if seq is not None else "--prefix" if unit is not None else None
        runs = [pick_run(None, option)]
    if len(runs) > 1 and not grad_flow:
        raise RnnlabError("several runs are compared by their gradient flow only: add --grad-flow")
    if len(runs) > 1 and out is None:
        raise RnnlabError("several runs: give --out DIR for the overlay")
    parsed = parse_unit(unit) if unit is not None else None
    if unit is not None:
        check_unit_task(runs[0], unit)
    from rnnlab.inference.inspect import inspect_runs

    folder, lines = inspect_runs(runs, checkpoint, given, out, parsed, grad_flow, device)
    for line in lines:
        typer.echo(line)
    typer.echo(str(folder))


def parse_unit(unit: str) -> tuple[int, int]:
    match = UNIT.fullmatch(unit.strip())
    if not match:
        raise RnnlabError(
            f"--unit takes LAYER:UNIT, e.g. 1:17 (layer from 1, unit from 0), got {unit!r}"
        )
    return int(match[1]), int(match[2])


def check_unit_task(run_dir: Path, unit: str) -> None:
    """--unit needs a language model (read from the run's config, without torch)."""
    from rnnlab.config import load_config
    from rnnlab.data import DATASETS, TextCorpus
    from rnnlab.runs import Run

    cfg = load_config(Run.open(run_dir).config_path)
    if not issubclass(DATASETS.get(cfg.data.dataset), TextCorpus):
        raise RnnlabError(
            f"--unit {unit} applies to language models (the units page); {run_dir} is a "
            f"classifier ({cfg.data.dataset})"
        )
