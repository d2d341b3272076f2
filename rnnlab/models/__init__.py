"""Models: recurrent stacks behind one contract (`recurrent.py`) and the heads around them."""

from . import builtin, scratch  # noqa: F401  (register model.impl "builtin", "scratch")
from .classifier import SequenceClassifier
from .lm import LanguageModel
from .recurrent import RECURRENT, Recurrent, detach_state

__all__ = ["RECURRENT", "LanguageModel", "Recurrent", "SequenceClassifier", "detach_state"]
