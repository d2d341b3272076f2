"""Callbacks that extend the training loop (`base.py` says how); importing this package
registers every one of them."""

from . import tensorboard  # noqa: F401  (train.tensorboard)
from .base import CALLBACKS, Callback, make_callbacks

__all__ = ["CALLBACKS", "Callback", "make_callbacks"]
