"""The memory benchmarks' tasks, one per dataset (docs/memory.md), each with the metric
that picks its best.pt."""

from __future__ import annotations

from rnnlab.data.adding import Adding
from rnnlab.data.copytask import Copy
from rnnlab.data.digits import Digits
from rnnlab.data.mnist1d import Mnist1d
from rnnlab.data.recall import Recall
from rnnlab.data.selective_copy import SelectiveCopy

from .base import TASKS
from .memory import MemoryTask


@TASKS.register("adding")
class AddingTask(MemoryTask):
    serves = Adding
    key_metric = "dev_mse"
    higher_is_better = False


@TASKS.register("copy")
class CopyTask(MemoryTask):
    serves = Copy
    key_metric = "dev_acc"
    higher_is_better = True


@TASKS.register("selective_copy")
class SelectiveCopyTask(MemoryTask):
    serves = SelectiveCopy
    key_metric = "dev_acc"
    higher_is_better = True


@TASKS.register("recall")
class RecallTask(MemoryTask):
    serves = Recall
    key_metric = "dev_acc"
    higher_is_better = True


@TASKS.register("digits")
class DigitsTask(MemoryTask):
    serves = Digits
    key_metric = "dev_acc"
    higher_is_better = True


@TASKS.register("mnist1d")
class Mnist1dTask(MemoryTask):
    serves = Mnist1d
    key_metric = "dev_acc"
    higher_is_better = True
