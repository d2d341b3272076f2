"""The stack of sequence layers (`cells/sequence.py`: mingru, minlstm), behind the
contract of `recurrent.py`, built by `stack.build_recurrent` when the cell's spec names
a layer rather than gate blocks.

As the paper stacks its minimal RNNs (Feng et al. 2024), after an input projection to
the width of the residual stream W = hidden_size * directions (a lookup for one-hot ids,
none for float inputs of width W), each of `model.num_layers` blocks is pre-norm
residual, and a last LayerNorm closes the stack:

    x = x + dropout(concat(layer_fwd(LN(x)), flip(layer_bwd(flip(LN(x))))))   # block l
    outputs = LN_out(x)                                                         # (T, B, W)

The reverse direction (`model.bidirectional`) runs its own layer on the time-reversed
sequence; `model.dropout` applies to each block's output but the last's. The paper's
language models also put a transformer-style MLP after each layer; this stack leaves
it out, so hidden_size and num_layers mean what they mean for the gated cells.

The state is a tuple of tensors, part j of every layer's state stacked over layers and
directions: (L * dirs, B, ...) each, so `(h,)` with h (L * dirs, B, H) for minGRU.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .cells.sequence import SequenceLayer
from .dropout import dropout
from .recurrent import Recurrent


class SequenceStack(Recurrent):
    accepts_ids = True  # one-hot input may come as token ids: a row lookup

    def __init__(self, model_cfg, input_size: int):
        super().__init__(model_cfg, input_size)
        layer_cls = self.spec.load_layer()
        width = self.output_size  # W = H * dirs, the residual stream
        self.dropout = model_cfg.dropout
        self.proj = nn.Linear(input_size, width) if input_size != width else None
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(self.num_layers))
        layers: list[SequenceLayer] = [
            layer_cls(width, self.hidden_size, model_cfg)
            for _ in range(self.num_layers * self.directions)
        ]  # layer l, direction d at l * dirs + d
        for layer in layers:
            layer.init_weights()
        self.layers = nn.ModuleList(layers)
        self.norm_out = nn.LayerNorm(width)

    def forward(self, inputs, state=None):
        """inputs (T, B, D) floats or (T, B) ids -> outputs (T, B, H * dirs), state."""
        x = self.project(inputs)  # (T, B, W)
        states = self.split_state(state, x.shape[1], x.device, x.dtype)
        last = []
        for block, norm in enumerate(self.norms):
            u = norm(x)  # (T, B, W)
            ys = []
            for direction in range(self.directions):
                k = block * self.directions + direction
                u_d = u.flip(0) if direction else u
                y, s = self.layers[k](u_d, states[k])  # (T, B, H)
                ys.append(y.flip(0) if direction else y)
                last.append(s)
            y = torch.cat(ys, 2) if self.directions == 2 else ys[0]  # (T, B, W)
            if self.dropout and self.training and block < self.num_layers - 1:
                y = dropout(y, self.dropout)
            x = x + y  # (T, B, W): the residual stream
        return self.norm_out(x), tuple(torch.stack(parts) for parts in zip(*last))

    def project(self, inputs: torch.Tensor) -> torch.Tensor:
        """The input projection to the residual stream's width: (T, B, W)."""
        if self.proj is None:
            if inputs.is_floating_point():
                return inputs
            return F.one_hot(inputs, self.input_size).to(self.norm_out.weight.dtype)
        if not inputs.is_floating_point():  # one-hot ids: rows of the weight
            return F.embedding(inputs, self.proj.weight.t() + self.proj.bias)  # (T, B, W)
        return self.proj(inputs)  # (T, B, W)

    def split_state(self, state, batch: int, device, dtype) -> list:
        """Each layer's own state tuple: from (L * dirs, B, ...) parts, or its zeros."""
        if state is None:
            layers = [cast(SequenceLayer, layer) for layer in self.layers]
            return [layer.initial_state(batch, device, dtype) for layer in layers]
        return [tuple(part[k] for part in state) for k in range(len(self.layers))]
