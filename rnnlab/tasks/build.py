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
    return task_of(cfg).config_warnings(cfg) + schedule_warnings(cfg.optim)


def schedule_warnings(o) -> list[str]:
    """Learning-rate schedules that train but make no sense (a warm-up longer than the
    run is told where the run's length is known: training/callbacks/schedule.py)."""
    found = []
    if o.schedule == "step" and (o.gamma or 0.1) > 1:
        found.append(
            f"optim.gamma {o.gamma:g} > 1 makes the step schedule raise the learning "
            f"rate {o.gamma:g}x every optim.step_size epochs (a decay needs gamma < 1)"
        )
    decay = o.decay_steps if isinstance(o.decay_steps, int) else None
    if o.schedule == "cosine" and decay is not None and decay <= (o.warmup_steps or 0):
        found.append(
            f"optim.decay_steps {decay} is not longer than optim.warmup_steps "
            f"{o.warmup_steps}: the cosine schedule never decays after its warm-up"
        )
    return found
