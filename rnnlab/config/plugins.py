"""Plug-ins (AllenNLP's `--include-package`): Python modules that a config's `plugins` list
or `--plugin MODULE` names, imported before the config is checked, so that a cell, a
dataset or a schedule a user registers in a file of their own is there to check against
and to build. The run's config.yaml records them, so `--resume`, predict, evaluate,
inspect and export import them again."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from rnnlab.errors import RnnlabError


def import_plugins(names: Sequence[str]) -> None:
    """Import each module (the current folder first on the path, as `python -m` has it);
    RnnlabError, one line, for any that fails to import."""
    if names and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    for name in names:
        if not name or name.startswith("."):
            raise RnnlabError(f"'plugins' lists Python modules by name, got {name!r}")
        try:
            importlib.import_module(name)
        except RnnlabError:
            raise
        except Exception as err:  # a plug-in's own error, whatever it is, is one line
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise RnnlabError(
                f"plugin '{name}' failed to import: {type(err).__name__}: {reason}"
            ) from None
