"""The independently recurrent neural network (IndRNN; Li, Li, Cook, Zhu and Gao 2018,
"Independently recurrent neural network (IndRNN): building a longer and deeper RNN"):
each unit sees only its own past, through one recurrent weight u_n:

    h_t = act(W x_t + u * h_{t-1} + b)        u a vector (H,), * elementwise; act relu

so the gradient through time of unit n is a product of u_n and act', and the paper bounds
it by keeping |u_n| <= recurrent_max^(1/T) (T the sequence length trained on), clipped
after each optimizer step: `model.options: {recurrent_max: 2.0, activation: relu}`.
W_ih is (H, D) and weight_hh the vector u (H,) (`CellSpec(diagonal=True)`); b is
b_ih + b_hh. Written as its step equations only: autograd does backpropagation through time.
"""

from __future__ import annotations

import torch

from .base import StepCell
from .fused import ACTIVATIONS


class IndRNN(StepCell):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.act = ACTIVATIONS[cfg.options["activation"]]
        self.recurrent_max = cfg.options["recurrent_max"]

    def equations(self, gx_t, state, w_hh, b_hh):
        (h,) = state  # (B, H)
        return (self.act(gx_t + w_hh * h + b_hh),), {}  # W x_t + b_ih + u * h_{t-1} + b_hh

    @torch.no_grad()
    def constrain(self, weights: tuple, steps: int) -> None:
        if self.recurrent_max is not None:
            bound = self.recurrent_max ** (1.0 / steps)
            weights[1].clamp_(-bound, bound)  # |u| <= recurrent_max^(1/T)
