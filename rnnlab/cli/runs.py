"""`rnnlab runs [DIR] [--json]`: the runs under runs/ (or DIR, or a sweep folder), newest
first. Torch-free."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnnlab.cli.boundary import user_errors
from rnnlab.cli.complete import complete_run
from rnnlab.cli.config import print_table
from rnnlab.runs.strictjson import dumps


@user_errors
def runs(
    folder: Annotated[
        Path,
        typer.Argument(
            help="A folder of run folders, or a sweep folder.", autocompletion=complete_run
        ),
    ] = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list, for scripts.")] = False,
) -> None:
    """List run folders and sweeps, newest first.

    Each run: name, status, key metric (best), best epoch, epochs, wall time, started; each
    sweep: its cells and how many finished."""
    from rnnlab.runs.listing import list_runs

    rows = list_runs(folder)
    if as_json:
        typer.echo(dumps(rows, "runs --json", indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"no runs under {folder}")
        return
    headers = ["name", "status", "key metric", "best epoch", "epochs", "wall", "started"]
    print_table(headers, [_cells(row) for row in rows])


def _cells(row: dict) -> list:
    metric = f"{row['key_metric']} {row['best']:.4g}" if row["best"] is not None else None
    return [row["name"], row["status"], metric, row["best_epoch"], row["epochs"],
            _duration(row["wall_s"]), row["started"]]  # fmt: skip


def _duration(seconds) -> str | None:
    if not isinstance(seconds, (int, float)):
        return None
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s" if m else f"{seconds:.1f}s"
