"""Tasks the training loop serves; `build_task` picks one from the dataset."""

from __future__ import annotations

import torch

from rnnlab.config import Config
from rnnlab.data import DATASETS

from .base import BatchResult, Task
from .classify import ClassifyTask
from .language_model import LanguageModelTask


def build_task(cfg: Config, device: torch.device) -> Task:
    dataset = DATASETS.get(cfg.data.dataset)()
    if dataset.task == "lm":
        return LanguageModelTask(cfg, device, dataset.load(cfg))
    if dataset.task == "classify":
        return ClassifyTask(cfg, device, dataset.load(cfg))
    raise NotImplementedError(f"task {dataset.task!r}")


__all__ = ["BatchResult", "ClassifyTask", "LanguageModelTask", "Task", "build_task"]
