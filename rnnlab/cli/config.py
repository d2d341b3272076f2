"""`rnnlab config show CFG [KEY=VALUE ...]` and `rnnlab config keys`: the resolved config a
run would save, and every key the schema has. Torch-free, like every config path."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlab.cli.boundary import user_errors
from rnnlab.cli.complete import complete_config

config_app = typer.Typer(
    help="Show a resolved config, or every config key with its default and meaning.",
    no_args_is_help=True,
)


@config_app.command("show")
@user_errors
def show(
    config: Annotated[
        Path,
        typer.Argument(help="YAML config, e.g. configs/tiny.yaml.", autocompletion=complete_config),
    ],
    overrides: Annotated[
        Optional[list[str]], typer.Argument(help="KEY=VALUE overrides, as for rnnlab train.")
    ] = None,
) -> None:
    """Print the config as a run would save it (config.yaml).

    Every default filled in, the overrides applied, checked as `rnnlab train` checks it."""
    from rnnlab.config import dump_config, load_config
    from rnnlab.tasks import check_config

    cfg = check_config(load_config(config, overrides or []))
    typer.echo(dump_config(cfg), nl=False)


@config_app.command("keys")
@user_errors
def keys(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="A Markdown table (README's key table).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list, for scripts.")] = False,
) -> None:
    """List every config key with its type, default, range and meaning.

    Read from the schema itself (rnnlab/config/schema.py)."""
    from rnnlab.config.keys import config_keys, keys_markdown

    found = config_keys()
    if markdown:
        typer.echo(keys_markdown(found), nl=False)
    elif as_json:
        typer.echo(json.dumps([asdict(k) for k in found], indent=2, ensure_ascii=False))
    else:
        print_table(["key", "type", "default", "range", "meaning"],
                    [list(asdict(k).values()) for k in found])  # fmt: skip


def print_table(headers: list[str], rows: list[list]) -> None:
    """A rich table on stdout; unwrapped (wide) when stdout is a pipe or a file."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers)
    for row in rows:
        table.add_row(*("-" if cell is None or cell == "" else str(cell) for cell in row))
    console = Console()
    if not console.is_terminal:
        console = Console(width=240)
    console.print(table)
