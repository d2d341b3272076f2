"""Callbacks that extend the training loop (`base.py` says how); importing this package
registers every one of them."""

from . import fingerprint  # noqa: F401  (registers the callback)
from .base import CALLBACKS, Callback, make_callbacks

__all__ = ["CALLBACKS", "Callback", "make_callbacks"]
