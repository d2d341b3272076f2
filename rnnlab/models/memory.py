"""The model of the memory tasks (docs/memory.md): an input layer, a recurrent stack and a
linear head, either at every step (copy, selective copy, recall: a symbol per position)
or on the final state (adding: one number; digits: ten classes).

Inputs are token ids (one-hot or a learned embedding, `model.embedding`) or real-valued
features per step (adding's value and marker, the digits' pixel), which go in as they are
(one_hot) or through a linear layer of `model.embedding` units. Every sequence of a batch
has the same length, so the final state is the last step's (both directions' final states
when bidirectional, as `classifier.LastState` reads them).
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.config.schema import ModelConfig

from .classifier import LastState
from .lm import make_input
from .stack import build_recurrent


class MemoryModel(nn.Module):
    def __init__(
        self, model_cfg: ModelConfig, vocab: int, features: int, outputs: int, per_step: bool
    ):
        """vocab: input ids (token tasks); features: real inputs per step (0: ids)."""
        super().__init__()
        self.features, self.per_step = features, per_step
        self.embed: nn.Module
        if features:
            dim = model_cfg.embedding
            self.embed = nn.Identity() if dim == "one_hot" else nn.Linear(features, dim)
            input_size = features if dim == "one_hot" else dim
        else:
            self.embed, input_size = make_input(model_cfg.embedding, vocab)
        if per_step:
            self.rnn = build_recurrent(model_cfg, input_size)
            hidden = self.rnn.output_size
        else:
            self.encoder = LastState(model_cfg, input_size)
            hidden = self.encoder.output_size
        self.head = nn.Linear(hidden, outputs)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs (B, T) ids or (B, T, F) features -> (B, T, O) per step, else (B, O)."""
        x = self.embed(inputs.transpose(0, 1))  # (T, B, D)
        if self.per_step:
            outputs, _ = self.rnn(x)  # (T, B, H)
            return self.head(outputs).transpose(0, 1)  # (B, T, O)
        lengths = torch.full((x.shape[1],), x.shape[0], device=x.device)  # (B,) all T
        return self.head(self.encoder(x, lengths))  # (B, O)
