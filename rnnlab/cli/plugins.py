"""`--plugin MODULE`: the option of every command that checks a config or rebuilds a run's
model (rnnlab/config/plugins.py says what a plug-in is)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

PluginOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--plugin",
        help="Python module to import first, registering cells, datasets or schedules of "
        "your own (repeatable; config key `plugins`).",
    ),
]


def with_plugins(config: Path | None, overrides: list[str], plugins: list[str] | None) -> list[str]:
    """`overrides` plus `plugins=[...]`, the config's own plug-ins and `--plugin`'s, so the
    config the run records names them all."""
    if not plugins:
        return overrides
    from rnnlab.config.load import read_yaml

    listed = read_yaml(config).get("plugins") if config is not None else None
    listed = listed if isinstance(listed, list) else []
    merged = [*listed, *(p for p in plugins if p not in listed)]
    return [*overrides, f"plugins={json.dumps(merged)}"]


def import_given(plugins: list[str] | None) -> None:
    """Import `--plugin` modules of a command that reads a run (the run's own config
    imports those it records)."""
    if plugins:
        from rnnlab.config.plugins import import_plugins

        import_plugins(plugins)
