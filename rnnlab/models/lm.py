"""A language model: token ids in, next-token logits out (d2l's RNNModel, section 8.6).

It owns the input (one-hot vectors or a learned embedding), the recurrent stack and the
output layer; the recurrent stack follows the contract of `recurrent.py`. A stack that
accepts ids gets one-hot input as the ids themselves and looks rows up.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.config.schema import ModelConfig

from .recurrent import State, build_recurrent


class OneHot(nn.Module):
    """Token ids -> one-hot float vectors, as d2l feeds its language models."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.one_hot(tokens, self.vocab_size).float()  # (..., V)


def make_input(embedding, vocab_size: int) -> tuple[nn.Module, int]:
    """(module, its output size) for `model.embedding`: "one_hot" or a dimension."""
    if embedding == "one_hot":
        return OneHot(vocab_size), vocab_size
    return nn.Embedding(vocab_size, embedding), embedding


class LanguageModel(nn.Module):
    def __init__(self, vocab_size: int, model_cfg: ModelConfig):
        super().__init__()
        self.embed, input_size = make_input(model_cfg.embedding, vocab_size)
        self.rnn = build_recurrent(model_cfg, input_size)
        self.ids_in = model_cfg.embedding == "one_hot" and self.rnn.accepts_ids
        self.head = nn.Linear(self.rnn.output_size, vocab_size)

    def forward(self, tokens: torch.Tensor, state: State | None = None):
        """tokens (B, T) ids -> logits (T, B, V), state."""
        x = tokens.T if self.ids_in else self.embed(tokens.T)  # (T, B) ids or (T, B, D)
        outputs, state = self.rnn(x, state)  # (T, B, H * directions)
        return self.head(outputs), state  # (T, B, V)
