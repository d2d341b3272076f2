"""Callbacks that extend the training loop (`base.py` says how); importing this package
registers every one of them."""

from . import (  # noqa: F401  (register the callbacks)
    average,  # optim.average
    constrain,  # cells that bound their weights (IndRNN)
    early_stop,
    fingerprint,  # checkpoints carry the run's vocabulary files
    grad_flow,  # noqa: F401  (train.log_grad_flow)
    grad_norms,  # train.log_grad_norms
    plots,  # the task's curves under plots/
    schedule,
    threads,  # threads: auto follows the machine's load while training
    time_limit,
)
from .base import CALLBACKS, Callback, make_callbacks
from .pruning import optuna_pruning  # noqa: F401  (a trial of rnnlab sweep --search optuna)
from .tensorboard import tensorboard  # noqa: F401  (train.tensorboard)

__all__ = ["CALLBACKS", "Callback", "make_callbacks"]
