"""Callbacks that extend the training loop (`base.py` says how); importing this package
registers every one of them."""

from . import early_stop, schedule, time_limit  # noqa: F401  (register the callbacks)
from .base import CALLBACKS, Callback, make_callbacks

__all__ = ["CALLBACKS", "Callback", "make_callbacks"]
