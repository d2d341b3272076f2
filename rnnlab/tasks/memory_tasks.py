"""The memory benchmarks' tasks, one per dataset (docs/memory.md); each takes the metric
that picks its best.pt from its dataset (`MemoryTask.__init_subclass__`)."""

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


@TASKS.register("copy")
class CopyTask(MemoryTask):
    serves = Copy


@TASKS.register("selective_copy")
class SelectiveCopyTask(MemoryTask):
    serves = SelectiveCopy


@TASKS.register("recall")
class RecallTask(MemoryTask):
    serves = Recall


@TASKS.register("digits")
class DigitsTask(MemoryTask):
    serves = Digits


@TASKS.register("mnist1d")
class Mnist1dTask(MemoryTask):
    serves = Mnist1d
