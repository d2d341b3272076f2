"""S6, the selective state-space layer of the Mamba block (Gu and Dao 2023, "Mamba:
Linear-Time Sequence Modeling with Selective State Spaces", Algorithm 2 and Figure 3):

    x, z  = in_proj(x_t)                         (B, E) each, E = expand · H
    u     = SiLU(conv1d(x))                      causal depthwise, width K
    Δ, B, C = x_proj(u)                          (B, R), (B, N), (B, N), R = ⌈H/16⌉
    Δ     = softplus(dt_proj(Δ))                 (B, E): dt_proj's bias is dt_bias
    A     = −exp(A_log)                          (E, N)
    Ā     = exp(Δ A)                             (B, E, N): zero-order hold
    B̄u    = Δ B u                                (B, E, N): the paper's simplified B̄
    h_t   = Ā ⊙ h_{t−1} + B̄u                     (B, E, N)
    y_t   = C h_t + D ⊙ u                        (B, E)
    out   = out_proj(y_t ⊙ SiLU(z))              (B, H)

N is `model.state_size` (default 16), K `model.conv_width` (default 4), expand
`model.expand` (default 2). Initialisation as mamba_simple.py: A_n = −(n + 1) for every
channel (S4D-real), D = 1, dt_proj.weight uniform in ±R^−½, dt_proj.bias the inverse
softplus of dt drawn log-uniform in [0.001, 0.1] (floor 1e-4), torch's defaults for
the projections and the convolution. Parameter names are mambapy's `MambaBlock`'s, so
one state_dict loads into the other (tests/test_lru_s6.py compares the two).

Memory: the (T, B, E, N) tensors Ā, B̄u and h are never whole. The scan runs in time
chunks of `model.scan_chunk` (default 64) steps, each under activation checkpointing:
the forward keeps only every chunk's inputs (Δ, u, B, C and the state entering it, (B,
E, N)), and the backward recomputes one chunk's (L, B, E, N) tensors at a time. Peak
training memory is O(T·B·E + T/L·B·E·N + L·B·E·N·log L), not O(T·B·E·N).

The state is (conv, h): the last K − 1 inputs of the convolution (B, E, K − 1) and the
SSM state (B, E, N). A chunk carried over (truncated BPTT, generation) continues both.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from rnnlab.models.cells import S6_DEFAULTS
from rnnlab.models.scan import linear_scan

from .sequence import SequenceLayer


def _scan_chunk(u, delta, A, Bm, Cm, h0):
    """One time chunk: u, Δ (L, B, E), A (E, N), B, C (L, B, N), h0 (B, E, N) ->
    C h (L, B, E) and the last state (B, E, N)."""
    dA = torch.exp(delta.unsqueeze(-1) * A)  # (L, B, E, N): Ā
    dBu = (delta * u).unsqueeze(-1) * Bm.unsqueeze(2)  # (L, B, E, N): B̄u
    h = linear_scan(dA, dBu, h0, chunk=dA.shape[0])  # (L, B, E, N)
    y = torch.einsum("lben,lbn->lbe", h, Cm)  # (L, B, E): C h
    return y, h[-1].clone()  # a copy: a view would keep the chunk's (L, B, E, N) alive


def selective_scan(u, delta, A, Bm, Cm, h0, chunk: int):
    """C h_t for h_t = exp(Δ_t A) h_{t−1} + Δ_t B_t u_t: (T, B, E) and the last state,
    chunk by chunk; under autograd each chunk is recomputed in the backward. The inputs
    are cut by `split` (its backward is one concatenation; slicing in a loop would add a
    zero-filled (T, B, E) gradient per chunk, O(T²/L) work)."""
    ys, h = [], h0
    parts = zip(*(t.split(chunk) for t in (u, delta, Bm, Cm)))  # (L, B, ·) each
    for u_c, delta_c, B_c, C_c in parts:
        if torch.is_grad_enabled():
            y, h = checkpoint(_scan_chunk, u_c, delta_c, A, B_c, C_c, h, use_reentrant=False)
        else:
            y, h = _scan_chunk(u_c, delta_c, A, B_c, C_c, h)
        ys.append(y)
    return torch.cat(ys), h  # (T, B, E), (B, E, N)


def option(cfg, key: str) -> int:
    """`model.<key>`, or S6's default where the config leaves it null."""
    value = getattr(cfg, key, None)
    return int(S6_DEFAULTS[key] if value is None else value)


class S6(SequenceLayer):
    def __init__(self, input_size: int, hidden_size: int, cfg):
        super().__init__(input_size, hidden_size, cfg)
        E, N, K = (
            option(cfg, "expand") * hidden_size,
            option(cfg, "state_size"),
            option(cfg, "conv_width"),
        )
        self.inner, self.state_size, self.conv_width = E, N, K
        self.dt_rank = math.ceil(hidden_size / 16)  # R
        self.in_proj = nn.Linear(input_size, 2 * E, bias=False)
        self.conv1d = nn.Conv1d(E, E, K, groups=E, padding=K - 1)  # padding: mambapy's
        self.x_proj = nn.Linear(E, self.dt_rank + 2 * N, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, E)
        self.A_log = nn.Parameter(torch.empty(E, N))  # (E, N)
        self.D = nn.Parameter(torch.empty(E))  # (E,)
        self.out_proj = nn.Linear(E, hidden_size, bias=False)

    def init_weights(self, dt_min: float = 1e-3, dt_max: float = 0.1) -> None:
        for module in (self.in_proj, self.conv1d, self.x_proj, self.out_proj):
            module.reset_parameters()
        E, N = self.A_log.shape
        with torch.no_grad():
            nn.init.uniform_(self.dt_proj.weight, -(self.dt_rank**-0.5), self.dt_rank**-0.5)
            log_dt = torch.rand(E) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
            dt = torch.exp(log_dt).clamp(min=1e-4)  # (E,): log-uniform in [dt_min, dt_max]
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹(dt)
            self.A_log.copy_(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))
            self.D.fill_(1.0)

    def initial_state(self, batch: int, device=None, dtype=None):
        E, N, K = self.inner, self.state_size, self.conv_width
        conv = torch.zeros(batch, E, K - 1, device=device, dtype=dtype)  # (B, E, K − 1)
        return conv, torch.zeros(batch, E, N, device=device, dtype=dtype)  # (B, E, N)

    def ssm_inputs(self, u):
        """Δ (..., E), B and C (..., N) from u (..., E)."""
        delta, Bm, Cm = self.x_proj(u).split([self.dt_rank, self.state_size, self.state_size], -1)
        return F.softplus(self.dt_proj(delta)), Bm, Cm

    def parallel(self, x, state):
        conv, h0 = state  # (B, E, K − 1), (B, E, N)
        xi, z = self.in_proj(x).chunk(2, -1)  # (T, B, E) each
        seq = torch.cat([conv, xi.permute(1, 2, 0)], -1)  # (B, E, K − 1 + T)
        w = self.conv1d.weight  # (E, 1, K)
        u = F.silu(F.conv1d(seq, w, self.conv1d.bias, groups=self.inner)).permute(
            2, 0, 1
        )  # (T, B, E)
        delta, Bm, Cm = self.ssm_inputs(u)  # (T, B, E), (T, B, N), (T, B, N)
        A = -torch.exp(self.A_log)  # (E, N)
        chunk = self.scan_chunk or S6_DEFAULTS["scan_chunk"]
        y, h = selective_scan(u, delta, A, Bm, Cm, h0, chunk)  # (T, B, E), (B, E, N)
        y = (y + self.D * u) * F.silu(z)  # (T, B, E)
        return self.out_proj(y), (
            seq[..., seq.shape[-1] - conv.shape[-1] :].clone(),
            h,
        )  # (T, B, H)

    def step(self, x_t, state):
        conv, h = state  # (B, E, K − 1), (B, E, N)
        xi, z = self.in_proj(x_t).chunk(2, -1)  # (B, E) each
        window = torch.cat([conv, xi.unsqueeze(-1)], -1)  # (B, E, K)
        u = F.silu((window * self.conv1d.weight[:, 0]).sum(-1) + self.conv1d.bias)  # (B, E)
        delta, Bm, Cm = self.ssm_inputs(u)  # (B, E), (B, N), (B, N)
        A = -torch.exp(self.A_log)  # (E, N)
        h = torch.exp(delta.unsqueeze(-1) * A) * h + (delta * u).unsqueeze(-1) * Bm.unsqueeze(1)
        y = torch.einsum("ben,bn->be", h, Cm) + self.D * u  # (B, E): C h + D u
        y = self.out_proj(y * F.silu(z))  # (B, H)
        return y, (window[..., 1:], h)
