"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): an LSTM whose gates read the
input only, with the forget and input gates normalised to sum to one (the
time-independent form, so the scale of h does not grow with t) and no output gate or
memory cell beside h:

    f_t       = σ(Linear_f(x_t))
    i_t       = σ(Linear_i(x_t))
    f'_t      = f_t / (f_t + i_t)
    i'_t      = i_t / (f_t + i_t)
    h_tilde_t = g(Linear_h(x_t))
    h_t       = f'_t ⊙ h_{t-1} + i'_t ⊙ h_tilde_t

In log space (the paper's appendix): diff = softplus(-k_f) - softplus(-k_i) = log(i / f),
log f' = -softplus(diff), log i' = -softplus(-diff), then the same scan as minGRU
(`mingru.scan_with_start`); the product form (the default, as minGRU's) scans
f' = σ(-diff) and i' ⊙ h_tilde = σ(diff) ⊙ h_tilde with `scan.linear_scan`. One weight `proj.weight` (3H, D), rows f, i, h_tilde.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnlab.models.scan import linear_scan

from .mingru import MinGRU, g, gate_inputs, log_g, scan_with_start


class MinLSTM(MinGRU):
    gates = 3  # row blocks of proj: f, i, h_tilde

    def parallel(self, x, state):
        (h0,) = state  # (B, H)
        k_f, k_i, pre_h = gate_inputs(self, x)  # (T, B, H) each
        diff = F.softplus(-k_f) - F.softplus(-k_i)  # log(i / f)
        if not self.log_space:  # products: f' = σ(-diff), i' = σ(diff)
            h = linear_scan(
                torch.sigmoid(-diff), torch.sigmoid(diff) * g(pre_h), h0, self.scan_chunk
            )
            return h, (h[-1],)  # (T, B, H), ((B, H),)
        log_f = -F.softplus(diff)  # log f'
        log_i = -F.softplus(-diff)  # log i'
        log_h_tilde = log_g(pre_h)  # log h_tilde
        h = scan_with_start(log_f, log_i + log_h_tilde, h0, self.scan_chunk)
        return h, (h[-1],)  # (T, B, H), ((B, H),)

    def step(self, x_t, state):
        (h,) = state  # (B, H)
        k_f, k_i, pre_h = gate_inputs(self, x_t)  # (B, H) each
        f = torch.sigmoid(k_f)  # forget gate
        i = torch.sigmoid(k_i)  # input gate
        f_norm, i_norm = f / (f + i), i / (f + i)  # f', i'
        h_tilde = g(pre_h)  # candidate state
        h = f_norm * h + i_norm * h_tilde  # (B, H)
        return h, (h,)
