"""`build_recurrent`: the recurrent stack a `model` config names (`recurrent.py`'s
contract), built by its registered implementation, which draws its weights (`init.py`).
Importing this module registers both implementations (`builtin.py`, `scratch.py`). A
cell whose spec names a sequence layer (mingru, minlstm, lru, s6) is stacked by
`sequence_stack.py` whatever `model.impl` (the config check lets only scratch through)."""

from __future__ import annotations

import torch
from torch import nn

from . import builtin, scratch  # noqa: F401  (register model.impl "builtin", "scratch")
from .cells import CELLS
from .recurrent import RECURRENT, Recurrent


def build_recurrent(cfg, input_size: int) -> Recurrent:
    """The stack `cfg.impl` names (its weights drawn once, by the stack itself, as
    `model.init` asks), with the forget bias the config asks for."""
    if CELLS.get(cfg.cell).sequence:  # a layer linear in its state: its own stack
        from .sequence_stack import SequenceStack

        return SequenceStack(cfg, input_size)
    stack = RECURRENT.get(cfg.impl)(cfg, input_size)
    gate = CELLS.get(cfg.cell).forget_gate
    if gate is not None and cfg.forget_bias:
        add_forget_bias(stack, cfg.forget_bias, cfg.hidden_size, gate)
    return stack


@torch.no_grad()
def add_forget_bias(stack: nn.Module, value: float, hidden_size: int, gate: int = 1) -> None:
    """Add `value` to every forget gate's bias (gate block `gate` of bias_hh: rows H:2H of
    the LSTM's, gate order i, f, g, o as torch.nn's), so memory is kept by default at the
    start of training (Gers et al. 2000; Jozefowicz et al. 2015 recommend 1)."""
    rows = slice(gate * hidden_size, (gate + 1) * hidden_size)
    for name, param in stack.named_parameters():
        if name.split(".")[-1].startswith("bias_hh"):
            param[rows] += value
