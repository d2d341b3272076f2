"""The one contract every recurrent layer stack in rnnlab follows, and its registry.

    outputs, state = layer(inputs, state)

    inputs:  (T, B, D)                 time-major, as torch.nn.RNN/GRU/LSTM take them;
                                       or (T, B) token ids standing for one-hot vectors
                                       of size D, where the class sets `accepts_ids`
    outputs: (T, B, H * directions)    the last layer's hidden state at every step
    state:   (L * directions, B, H)    or, for a cell with memory (lstm), the pair (h, c)
                                       of those; for a sequence layer (mingru...) a tuple
                                       of parts (L * directions, B, ...); None: zeros

Implementations register under `model.impl` (`@RECURRENT.register("builtin")`) and are
built from the `model` config section and the input size by `stack.build_recurrent`. Their parameters carry
torch.nn's names (`weight_ih_l0`, `bias_hh_l1_reverse`, ...) under `layer.`, so the
implementations exchange state_dicts and share `model.init` (`init.py`).
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.config.schema import ModelConfig
from rnnlab.registry import Registry

from .cells import CELLS

State = torch.Tensor | tuple[torch.Tensor, ...]


class Recurrent(nn.Module):
    """Base of every recurrent stack: `forward(inputs (T, B, D), state) -> (outputs, state)`."""

    accepts_ids = False  # True: one-hot input may come as (T, B) ids (a row lookup)

    def __init__(self, model_cfg: ModelConfig, input_size: int):
        super().__init__()
        self.cell = model_cfg.cell
        self.spec = CELLS.get(model_cfg.cell)  # gates, memory, torch.nn layer, options
        self.input_size = input_size
        self.hidden_size = model_cfg.hidden_size
        self.num_layers = model_cfg.num_layers
        self.directions = 2 if model_cfg.bidirectional else 1

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.directions

    def forward(self, inputs: torch.Tensor, state: State | None = None):
        raise NotImplementedError


RECURRENT: Registry[type[Recurrent]] = Registry("model.impl")


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a state carried into the next batch (truncated BPTT)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(part.detach() for part in state)
    return state.detach()
