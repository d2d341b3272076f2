"""How the training loop is extended without editing it (Lightning's and AllenNLP's
callbacks): an object with hooks the loop calls at fixed points, and a registry of
factories that build the callbacks a config asks for.

A new feature (a learning-rate schedule, early stopping, a time limit, a logger) is one
module in this package with a factory registered under a name:

    @CALLBACKS.register("early_stop")
    def early_stop(session) -> Callback | None:   # None: the config does not ask for it
        ...

and one import line in `__init__.py`. A callback that keeps state across a resume
(counters, a scheduler) returns it from `state_dict` (tensors and plain data only): it
travels in every checkpoint under `callbacks[name]`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Protocol

from rnnlab.registry import Registry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from rnnlab.config import Config
    from rnnlab.runs import Run
    from rnnlab.tasks import Task
    from rnnlab.training.checkpoint import TrainState


class SessionView(Protocol):
    """What a callback reads of the training session (the loop's `Session` has it): a
    protocol, so that callbacks do not import the loop that calls them."""

    cfg: Config
    run: Run | None
    task: Task
    model: nn.Module
    optimizer: torch.optim.Optimizer


class Callback:
    """Hooks of the one training loop; every hook does nothing by default."""

    name = "callback"  # set from the registry name by `make_callbacks`
    first = False  # called before the others at each hook (weights they read settle first)

    def on_train_start(self, s: SessionView, state: TrainState) -> None:
        """Before the first batch (of a new or a resumed run)."""

    def on_after_backward(self, s: SessionView, state: TrainState) -> None:
        """After backward, before clipping and the optimizer step: the gradients are
        there, unscaled (`state.step` counts the steps before this one)."""

    def on_step(self, s: SessionView, state: TrainState) -> None:
        """After every optimizer step (`state.step` counts it)."""

    def on_log_point(self, s: SessionView, state: TrainState, row: dict, evaluated: bool) -> None:
        """A metrics row is about to be written: add columns to `row` or read it."""

    def on_metrics(self, s: SessionView, state: TrainState) -> None:
        """A metrics row was written (`state.rows` ends with it)."""

    def evaluation_weights(self, s: SessionView) -> AbstractContextManager:
        """A context in which the loop evaluates, keeps best.pt and samples: a callback may
        swap other weights into the model there (optim.average)."""
        return nullcontext()

    def on_epoch_end(self, s: SessionView, state: TrainState) -> None:
        """After an epoch's last log point and before its last.pt."""

    def on_train_end(self, s: SessionView, state: TrainState, status: str) -> None:
        """After training (finished, interrupted, diverged) and testing; `status` as in
        summary.json."""

    def stop_reason(self) -> str | None:
        """A reason to end training cleanly now (early stop, time limit), or None."""
        return None

    def summary(self) -> dict:
        """What this callback adds to summary.json."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


Factory = Callable[[SessionView], "Callback | None"]
CALLBACKS: Registry[Factory] = Registry("callback")


def make_callbacks(session: SessionView) -> list[Callback]:
    """The callbacks `session.cfg` asks for: those marked `first`, then the others, each in
    registry-name order."""
    made = []
    for name in CALLBACKS.names():
        callback = CALLBACKS.get(name)(session)
        if callback is not None:
            callback.name = name
            made.append(callback)
    return sorted(made, key=lambda c: not c.first)  # stable: names stay in order
