"""The minimal gated unit (MGU; Zhou, Wu, Zhang and Zhou 2016, "Minimal gated unit for
recurrent neural networks"): a GRU with one gate, the forget gate f, doing the work of
both the reset and the update gate:

    f       = sigmoid(W_f x_t + U_f h_{t-1} + b_f)
    h_tilde = tanh(W_h x_t + U_h (f * h_{t-1}) + b_h)
    h_t     = (1 - f) * h_{t-1} + f * h_tilde

Two gate blocks, in the order f, h_tilde, in the rows of W_ih (2H, D) and W_hh (2H, H).
Written as its step equations only: autograd does backpropagation through time.
"""

from __future__ import annotations

import torch

from .base import StepCell


class MGU(StepCell):
    sigmoid_gates = ("f",)

    def equations(self, gx_t, state, w_hh, b_hh):
        (h,) = state  # (B, H)
        x_f, x_h = gx_t.chunk(2, 1)  # W x_t + b_ih per block   (B, H) each
        u_f, u_h = w_hh.chunk(2, 0)  # (H, H) each
        b_f, b_h = b_hh.chunk(2)  # (H,) each
        f = torch.sigmoid(x_f + h @ u_f.t() + b_f)  # forget gate
        h_tilde = torch.tanh(x_h + (f * h) @ u_h.t() + b_h)  # candidate state
        return ((1 - f) * h + f * h_tilde,), {"f": f}  # (B, H)
