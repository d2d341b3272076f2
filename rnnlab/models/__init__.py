"""Models: recurrent stacks behind one contract (`recurrent.py`) and the heads around them.

Importing this package needs no torch: the cell registry (`cells.CELLS`) and
`check_model`, which config checks use before training, are plain Python; the names
below that hold tensors load their module on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .cells import CELLS, CellSpec, check_model

if TYPE_CHECKING:
    from .classifier import SequenceClassifier
    from .lm import LanguageModel
    from .memory import MemoryModel
    from .recurrent import RECURRENT, Recurrent, detach_state
    from .stack import build_recurrent

_LAZY = {
    "LanguageModel": "lm",
    "MemoryModel": "memory",
    "SequenceClassifier": "classifier",
    "RECURRENT": "recurrent",
    "Recurrent": "recurrent",
    "build_recurrent": "stack",
    "detach_state": "recurrent",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_LAZY[name]}", __name__), name)


__all__ = [
    "CELLS",
    "RECURRENT",
    "CellSpec",
    "LanguageModel",
    "MemoryModel",
    "Recurrent",
    "SequenceClassifier",
    "build_recurrent",
    "check_model",
    "detach_state",
]
