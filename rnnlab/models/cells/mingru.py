"""minGRU (Feng, Tung, Ahmed, Bengio and Hajimirsadeghi 2024, "Were RNNs All We
Needed?"): a GRU whose update gate and candidate read the input only, so the state is a
linear recurrence h_t = a_t ⊙ h_{t-1} + b_t that trains by a parallel scan:

    z_t       = σ(Linear_z(x_t))
    h_tilde_t = g(Linear_h(x_t))             g(x) = x + 0.5 (x >= 0), σ(x) (x < 0)
    h_t       = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h_tilde_t

The parallel form is `scan.linear_scan` over a_t = 1 - z_t and b_t = z_t ⊙ h_tilde_t:
products and sums only, so its error is the step loop's (a product that underflows is
the true, negligible decay), and on a CPU it is ~6x faster than the log-space form for
the same numbers (docs/frontier.md, "Parallel form and step form"). The log-space form of
the paper's appendix (Heinsen 2023; g keeps h_tilde > 0): log(1 - z) = -softplus(k),
log z = -softplus(-k), log h_tilde = log g(Linear_h(x)), and `scan.log_scan` gives the
h_t of h_0 = 0; the start state enters linearly, h_t += (Π_{s<=t} (1 - z_s)) h_0, so no
log of h_0 is taken. It is what export traces (`log_space`: one chunk has no loop over
time) and tests hold equal to the product form.
The step form is the three lines above. One weight `proj.weight` (2H, D), rows z then
h_tilde, and its bias.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.models.scan import linear_scan, log_scan

from .sequence import SequenceLayer


def g(x: torch.Tensor) -> torch.Tensor:
    """The paper's positive activation: x + 0.5 for x >= 0, σ(x) below (continuous)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x), finite on both branches (so the gradient of `torch.where` is too)."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def gate_inputs(layer, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The row blocks of proj(x), at least float32 (the scan under bf16 autocast)."""
    out = layer.proj(x)  # (..., G*H)
    out = out.to(torch.promote_types(out.dtype, torch.float32))
    return out.chunk(layer.gates, -1)  # (..., H) each


def scan_with_start(log_a, log_b, h0, chunk):
    """h (T, B, H) of h_t = a_t h_{t-1} + b_t from log a, log b (T, B, H) and h0 (B, H)."""
    h = log_scan(log_a, log_b, chunk=chunk)  # (T, B, H): started from 0
    return h + torch.exp(torch.cumsum(log_a, 0)) * h0.to(h.dtype)  # (T, B, H): plus Π a ⊙ h0


class MinGRU(SequenceLayer):
    gates = 2  # row blocks of proj: z, h_tilde
    traceable = True  # log_scan in one chunk has no loop over time; the state is (h,)
    log_space = False  # the parallel form's scan: products (linear_scan) or log space

    def prepare_trace(self, chunk: int) -> None:
        super().prepare_trace(chunk)
        self.log_space = True  # log_scan's one chunk is one graph for any length

    def __init__(self, input_size: int, hidden_size: int, cfg):
        super().__init__(input_size, hidden_size, cfg)
        self.proj = nn.Linear(input_size, self.gates * hidden_size)

    def init_weights(self) -> None:
        self.proj.reset_parameters()  # uniform in +-1/sqrt(D), as torch.nn.Linear

    def parallel(self, x, state):
        (h0,) = state  # (B, H)
        k, pre_h = gate_inputs(self, x)  # (T, B, H) each
        if not self.log_space:
            z = torch.sigmoid(k)  # update gate
            h = linear_scan(1 - z, z * g(pre_h), h0, self.scan_chunk)  # (T, B, H)
            return h, (h[-1],)  # (T, B, H), ((B, H),)
        log_one_minus_z = -F.softplus(k)  # log(1 - z)
        log_z = -F.softplus(-k)  # log z
        log_h_tilde = log_g(pre_h)  # log h_tilde
        h = scan_with_start(log_one_minus_z, log_z + log_h_tilde, h0, self.scan_chunk)
        return h, (h[-1],)  # (T, B, H), ((B, H),)

    def step(self, x_t, state):
        (h,) = state  # (B, H)
        k, pre_h = gate_inputs(self, x_t)  # (B, H) each
        z = torch.sigmoid(k)  # update gate
        h_tilde = g(pre_h)  # candidate state
        h = (1 - z) * h + z * h_tilde  # (B, H)
        return h, (h,)
