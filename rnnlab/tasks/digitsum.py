"""Classifying nndl's DigitSum sequences: classification, with digits as predict input."""

from __future__ import annotations

from rnnlab.data.digitsum import DigitSum
from rnnlab.errors import RnnlabError

from .base import TASKS, Artifacts
from .classify import ClassifyTask, cut


@TASKS.register("digitsum")
class DigitSumTask(ClassifyTask):
    serves = DigitSum
    predict_option = "--seq"

    @classmethod
    def read_input(cls, cfg, artifacts: Artifacts, given: str) -> list[str]:
        """Digits 0-9 separated by spaces, cut to data.max_len."""
        tokens = given.split()
        wrong = [t for t in tokens if t not in "0123456789" or len(t) != 1]
        if wrong:
            raise RnnlabError(f"--seq takes digits 0-9 separated by spaces, got {wrong[0]!r}")
        return cut(cfg, tokens)
