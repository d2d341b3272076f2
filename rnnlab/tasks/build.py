"""Every task, registered, and `build_task`, which picks one by the dataset's class (the task
registered for its nearest base class, `task_for`), never by a name."""

from __future__ import annotations

import torch

from rnnlab.data import DATASETS

from . import digitsum, memory_tasks  # noqa: F401  (register DigitSum's and the memory tasks)
from .base import TASKS as TASKS  # re-exported by rnnlab.tasks, as the names below
from .base import Artifacts as Artifacts
from .base import BatchResult as BatchResult
from .base import Sampling as Sampling
from .base import Task, task_for
from .classify import ClassifyTask as ClassifyTask
from .language_model import LanguageModelTask as LanguageModelTask


def task_of(cfg) -> type[Task]:
    """The task class that trains on `cfg`'s dataset."""
    return task_for(DATASETS.get(cfg.data.dataset))


def build_task(cfg, device: torch.device) -> Task:
    """The task for `cfg`, holding its data (read here) on `device`."""
    dataset = DATASETS.get(cfg.data.dataset)()
    return task_for(type(dataset))(cfg, device, dataset.load(cfg))


def config_warnings(cfg) -> list[str]:
    """Configs that train but deserve a word: one line each, shown on stderr by `train`."""
    return task_of(cfg).config_warnings(cfg)
