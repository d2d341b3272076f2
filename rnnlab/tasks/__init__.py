"""Tasks the training loop serves (`build.py`: every task registered, and `build_task`).

`check_config` is torch-free, so a config is checked before torch is imported; every other
name here loads the tasks, and torch, on first use (PEP 562)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .checks import check_config

if TYPE_CHECKING:
    from .build import (
        TASKS,
        Artifacts,
        BatchResult,
        ClassifyTask,
        LanguageModelTask,
        Sampling,
        Task,
        build_task,
        config_warnings,
        task_for,
        task_of,
    )

__all__ = [
    "TASKS",
    "Artifacts",
    "BatchResult",
    "ClassifyTask",
    "LanguageModelTask",
    "Sampling",
    "Task",
    "build_task",
    "check_config",
    "config_warnings",
    "task_for",
    "task_of",
]
_FROM_BUILD = set(__all__) - {"check_config"}  # these load the tasks, and torch


def __getattr__(name: str) -> Any:
    if name in _FROM_BUILD:
        return getattr(importlib.import_module(".build", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
