"""Cells that keep their weights in bounds (IndRNN's |u| <= recurrent_max^(1/T)): after
every optimizer step, each scratch stack's cell `constrain`s the weights of each of its
layers and directions (`Cell.constrain`, rnnlab/models/cells/base.py)."""

from __future__ import annotations

from rnnlab.models.cells.base import Cell
from rnnlab.models.scratch import Scratch

from .base import CALLBACKS, Callback


@CALLBACKS.register("constrain")
def constrain(session) -> Callback | None:
    stacks = [
        m
        for m in session.model.modules()
        if isinstance(m, Scratch) and type(m.cell_fn).constrain is not Cell.constrain
    ]
    data = session.cfg.data
    return Constrain(stacks, data.max_len or data.num_steps) if stacks else None


class Constrain(Callback):
    first = True  # the clipped weights are the step's: an average or a log reads them

    def __init__(self, stacks: list[Scratch], steps: int):
        self.stacks, self.steps = stacks, steps  # steps: the sequence length T

    def on_step(self, s, state) -> None:
        for stack in self.stacks:
            for layer in range(stack.num_layers):
                for direction in range(stack.directions):
                    stack.cell_fn.constrain(stack.layer.of(layer, direction), self.steps)
