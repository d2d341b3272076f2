"""A language model: token ids in, next-token logits out (d2l's RNNModel, section 8.6).

It owns the input (one-hot vectors or a learned embedding), the recurrent stack and the
output layer; the recurrent stack follows the contract of `recurrent.py`. A stack that
accepts ids gets one-hot input as the ids themselves and looks rows up. The regularisers
of `regularize.py` (embedding/output dropout, locked or not, token dropout, weight drop,
tied or adaptive output layers, AR and TAR) sit around the stack; all are off by default.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.config import ModelConfig

from .init import init_uniform
from .recurrent import State
from .regularize import (
    SequenceDropout,
    TokenDropout,
    activation_penalty,
    head_loss,
    make_head,
    run_recurrent,
)
from .stack import build_recurrent


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
        self.head = make_head(self.rnn.output_size, vocab_size, model_cfg, self.embed)
        self.embed_drop = SequenceDropout(model_cfg.embed_dropout, model_cfg.locked_dropout)
        self.output_drop = SequenceDropout(model_cfg.output_dropout, model_cfg.locked_dropout)
        self.token_drop = TokenDropout(model_cfg.token_dropout)
        self.weight_drop = model_cfg.weight_drop
        self.ar, self.tar = model_cfg.ar, model_cfg.tar
        if model_cfg.init == "uniform":  # Zaremba 2014: the embedding and output layer too
            init_uniform(self.embed, model_cfg.init_range)
            init_uniform(self.head, model_cfg.init_range)

    def features(self, tokens: torch.Tensor, state: State | None = None):
        """tokens (B, T) ids -> (the output layer's input, the stack's own outputs before
        output dropout (T, B, H) each, state)."""
        if self.ids_in:
            x = tokens.T  # (T, B)
        else:
            x = self.token_drop(self.embed_drop(self.embed(tokens.T)))  # (T, B, D)
        raw, state = run_recurrent(self.rnn, x, state, self.weight_drop)  # (T, B, H*dirs)
        return self.output_drop(raw), raw, state

    def forward(self, tokens: torch.Tensor, state: State | None = None):
        """tokens (B, T) ids -> logits (T, B, V) (log-probabilities: adaptive), state."""
        outputs, _, state = self.features(tokens, state)  # (T, B, H)
        return self.head(outputs), state  # (T, B, V)

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor, state: State | None = None):
        """tokens, targets (B, T) ids -> (mean cross-entropy, penalty, state); the penalty
        is AR + TAR in training (`model.ar`, `model.tar`), None otherwise."""
        outputs, raw, state = self.features(tokens, state)  # (T, B, H) each
        penalty = None
        if self.training and (self.ar or self.tar):
            penalty = activation_penalty(outputs, raw, self.ar, self.tar)
        return head_loss(self.head, outputs, targets.T), penalty, state
