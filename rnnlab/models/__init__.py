"""Models: recurrent stacks behind one contract (`recurrent.py`) and the heads around them."""

from . import builtin  # noqa: F401  (registers model.impl "builtin")
from .classifier import SequenceClassifier
from .lm import LanguageModel
from .recurrent import RECURRENT, Recurrent, detach_state

__all__ = ["RECURRENT", "LanguageModel", "Recurrent", "SequenceClassifier", "detach_state"]
