"""`rnnlab export RUN --format onnx|torchscript`: a trained model as a file that runs
without rnnlab (docs/export.md). Torch is imported only when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlab.cli.boundary import user_errors
from rnnlab.cli.complete import complete_run
from rnnlab.cli.plugins import PluginOption, import_given


@user_errors
def export(
    format: Annotated[str, typer.Option("--format", help="onnx or torchscript.")],
    run: Annotated[
        Optional[Path],
        typer.Argument(
            help="Run folder; default: the newest under runs/.", autocompletion=complete_run
        ),
    ] = None,
    checkpoint: Annotated[str, typer.Option(help="Which checkpoint: best or last.")] = "best",
    out: Annotated[
        Optional[Path], typer.Option(help="The model file (default: RUN/export/model.onnx|.pt).")
    ] = None,
    plugin: PluginOption = None,
) -> None:
    """Export a trained model as ONNX or TorchScript.

    A language model becomes a step function (ids and state in, logits and state out), a
    classifier a function of ids and lengths to probabilities; vocab.json, labels.json and
    <file>.json (its inputs and outputs) go beside the file. Prints the file and how
    closely it matches PyTorch."""
    import_given(plugin)
    from rnnlab.cli.pick import pick_run
    from rnnlab.inference.export import export_run

    run = pick_run(run)

    done = export_run(run, checkpoint, format, out)
    typer.echo(f"{done.path}  (max |diff| from PyTorch: {done.max_diff:.2g})")
