"""`rnnlab evaluate RUN`: a run's held-out figures again from its checkpoint, and a language
model's with dynamic evaluation (the work is in rnnlab/inference/evaluate.py).
Registered on the app in `rnnlab/cli/__init__.py`; torch is imported only when it runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlab.cli.boundary import check_checkpoint, user_errors
from rnnlab.cli.complete import complete_run
from rnnlab.cli.plugins import PluginOption, import_given
from rnnlab.errors import RnnlabError
from rnnlab.runs.strictjson import dumps


@user_errors
def evaluate(
    run: Annotated[
        Optional[Path],
        typer.Argument(
            help="Run folder; default: the newest under runs/.", autocompletion=complete_run
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="valid (a classifier's dev) or test.")] = "valid",
    checkpoint: Annotated[str, typer.Option(help="Which checkpoint: best or last.")] = "best",
    dynamic: Annotated[
        bool,
        typer.Option(
            "--dynamic", help="Language models: also score it adapting as it reads (Krause 2018)."
        ),
    ] = False,
    rule: Annotated[
        str, typer.Option(help="--dynamic: rms (Krause's RMS with a global prior) or sgd.")
    ] = "rms",
    lr: Annotated[
        Optional[float],
        typer.Option(help="--dynamic: step size (default 1e-4 for words, 3e-5 for characters)."),
    ] = None,
    decay: Annotated[
        Optional[float],
        typer.Option(
            help="--dynamic: pull towards the trained weights per step (default 2e-4 for "
            "words, 2e-3 for characters)."
        ),
    ] = None,
    segment: Annotated[
        Optional[int],
        typer.Option(help="--dynamic: tokens per step (default 20 for words, 5 for characters)."),
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N, mps or auto.")] = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    threads: Annotated[
        str, typer.Option(help="CPU threads: auto (usable cores less other load) or N.")
    ] = "auto",
    plugin: PluginOption = None,
) -> None:
    """Score a run's held-out data again from its checkpoint.

    Every token, in float32, as training did; with --dynamic, also while the model keeps
    learning from the text it has scored (dynamic evaluation: each segment is scored, then
    learnt from)."""
    check_checkpoint(checkpoint)
    import_given(plugin)
    if rule not in ("rms", "sgd"):
        raise RnnlabError(f"--rule must be rms or sgd, got {rule!r}")
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise RnnlabError(f"--lr must be a positive number, got {lr}")
    if decay is not None and not (math.isfinite(decay) and 0 <= decay < 1):
        raise RnnlabError(f"--decay must be in [0, 1), got {decay}")
    if segment is not None and segment < 1:
        raise RnnlabError(f"--segment must be >= 1, got {segment}")
    given = {"lr": lr, "decay": decay, "segment": segment}
    given = {k: v for k, v in given.items() if v is not None}
    if given and not dynamic:
        raise RnnlabError(f"--{next(iter(given))} applies to dynamic evaluation: add --dynamic")
    from rnnlab.cli.pick import pick_run
    from rnnlab.cpus import parse_threads
    from rnnlab.device import set_threads
    from rnnlab.inference.evaluate import describe, evaluate_run

    set_threads(parse_threads(threads))

    run = pick_run(run, "--prefix" if dynamic else None)  # dynamic: language models only

    how = {"rule": rule, **given} if dynamic else None
    result = evaluate_run(run, split, checkpoint, how, device)
    if as_json:
        typer.echo(dumps(result, "evaluate --json"))
        return
    for line in describe(result):
        typer.echo(line)
