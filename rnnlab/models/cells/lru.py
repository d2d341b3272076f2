"""The Linear Recurrent Unit (Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu and De
2023, "Resurrecting Recurrent Neural Networks for Long Sequences"): a diagonal complex
linear recurrence with a stable exponential parametrisation and a normalised input:

    λ   = exp(−exp(ν_log) + i exp(θ_log))        (N,) complex, |λ| < 1 for any ν_log
    γ   = exp(γ_log)                             (N,) initialised to sqrt(1 − |λ|²)
    h_t = λ ⊙ h_{t−1} + γ ⊙ (B x_t)              (B, N) complex
    y_t = Re(C h_t) + D ⊙ x_t                    (B, H)

B (N, D) and C (H, N) are complex, held as real and imaginary parts (real parameters
only, so every optimiser, checkpoint and export path takes them). D is the paper's
element-wise skip (H,) when the input width equals H (one direction), and a matrix
(H, D) otherwise (a bidirectional stack feeds 2H). The state is h (B, N, 2): the real
and imaginary parts of the complex state (a real tensor, as the stack stacks states).

Initialisation, as the paper's Appendix A: |λ| uniform on the ring r_min <= |λ| <= r_max
(ν_log = log(−½ log(u (r_max² − r_min²) + r_min²))), phase uniform in [0, max_phase]
(θ_log = log(max_phase u)), γ_log = log sqrt(1 − |λ|²), B ~ N(0, 1/(2D)) per part,
C ~ N(0, 1/N) per part, D ~ N(0, 1). The paper's code defaults to r_min = 0, r_max = 1,
max_phase = 2π; the paper finds its long-range tasks need |λ| close to 1 at
initialisation, and rnnlab defaults to such a ring, r_min = 0.9, r_max = 0.999
(`model.r_min`, `model.r_max`: memory of tens to a thousand steps from the first update),
with max_phase = 2π (the paper also narrows the phase for some tasks; not a key here). N is `model.state_size` (default: hidden size). γ is trained, as in
the paper's code (the equations fix it; the code learns γ_log from that start).

The recurrence alone is linear in x: the paper's LRU block follows it with a GELU and a
gated linear unit (its position-wise "MLP/GLU"), and so does this layer's output:

    out_t = (W_a GELU(y_t)) ⊙ σ(W_g GELU(y_t))      (B, H), `glu` (2H, H) + bias

the stack (`models/sequence_stack.py`) adds the block's norm and residual. The parallel
form is `scan.linear_scan` over complex numbers; the step form is the recurrence above.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.models.cells import LRU_DEFAULTS
from rnnlab.models.scan import linear_scan

from .sequence import SequenceLayer


def as_float32(h):
    """A state (..., 2) in float32 at least, contiguous: view_as_complex needs both."""
    return h.to(torch.promote_types(h.dtype, torch.float32)).contiguous()


class LRU(SequenceLayer):
    def __init__(self, input_size: int, hidden_size: int, cfg):
        super().__init__(input_size, hidden_size, cfg)
        N, H, D = getattr(cfg, "state_size", None) or hidden_size, hidden_size, input_size
        self.state_size = N
        r_min, r_max = getattr(cfg, "r_min", None), getattr(cfg, "r_max", None)
        self.r_min = LRU_DEFAULTS["r_min"] if r_min is None else r_min
        self.r_max = LRU_DEFAULTS["r_max"] if r_max is None else r_max
        self.max_phase = LRU_DEFAULTS["max_phase"]
        self.nu_log = nn.Parameter(torch.empty(N))  # (N,)
        self.theta_log = nn.Parameter(torch.empty(N))  # (N,)
        self.gamma_log = nn.Parameter(torch.empty(N))  # (N,)
        self.B_re = nn.Parameter(torch.empty(N, D))  # (N, D)
        self.B_im = nn.Parameter(torch.empty(N, D))  # (N, D)
        self.C_re = nn.Parameter(torch.empty(H, N))  # (H, N)
        self.C_im = nn.Parameter(torch.empty(H, N))  # (H, N)
        self.D = nn.Parameter(torch.empty(H) if D == H else torch.empty(H, D))  # (H,) | (H, D)
        self.glu = nn.Linear(H, 2 * H)  # rows W_a then W_g

    def init_weights(self) -> None:
        N, D = self.B_re.shape
        with torch.no_grad():
            u1, u2 = torch.rand(N), torch.rand(N)  # (N,) each
            ring = u1 * (self.r_max**2 - self.r_min**2) + self.r_min**2  # |λ|² on the ring
            self.nu_log.copy_(torch.log(-0.5 * torch.log(ring)))
            self.theta_log.copy_(torch.log(self.max_phase * u2))
            self.gamma_log.copy_(0.5 * torch.log1p(-ring))  # log sqrt(1 − |λ|²)
            for part in (self.B_re, self.B_im):
                part.normal_(0.0, 1.0 / math.sqrt(2 * D))
            for part in (self.C_re, self.C_im):
                part.normal_(0.0, 1.0 / math.sqrt(N))
            self.D.normal_(0.0, 1.0 if self.D.dim() == 1 else 1.0 / math.sqrt(D))
        self.glu.reset_parameters()

    def initial_state(self, batch: int, device=None, dtype=None):
        return (torch.zeros(batch, self.state_size, 2, device=device, dtype=dtype),)

    def lam(self):
        """λ (N,) complex and γ (N,) real."""
        mod = torch.exp(-torch.exp(self.nu_log))  # |λ|
        return torch.polar(mod, torch.exp(self.theta_log)), torch.exp(self.gamma_log)

    def skip(self, x):
        """D ⊙ x, or D x where the input width is not H: (..., H)."""
        return x * self.D if self.D.dim() == 1 else x @ self.D.t()

    def project_in(self, x):
        """B x (..., N) complex, in float32 at least (autocast's bfloat16 has no complex)."""
        dtype = torch.promote_types(x.dtype, torch.float32)
        return torch.complex((x @ self.B_re.t()).to(dtype), (x @ self.B_im.t()).to(dtype))

    def read_out(self, h, x):
        """y = Re(C h) + D ⊙ x from h (..., N) complex and x (..., D): (..., H)."""
        return h.real @ self.C_re.t() - h.imag @ self.C_im.t() + self.skip(x)

    def mix(self, y):
        """The block's position-wise part: GLU(GELU(y)), (..., H) -> (..., H)."""
        a, g = self.glu(F.gelu(y)).chunk(2, -1)  # (..., H) each
        return a * torch.sigmoid(g)

    def recurrence(self, x, state):
        """The LRU proper: y = Re(C h) + D x (T, B, H) and the last state ((B, N, 2),)."""
        (h0,) = state  # (B, N, 2)
        lam, gamma = self.lam()  # (N,) complex, (N,)
        bx = self.project_in(x)  # (T, B, N): B x_t
        h = linear_scan(lam, gamma * bx, torch.view_as_complex(as_float32(h0)), self.scan_chunk)
        y = self.read_out(h, x)  # (T, B, H)
        return y, (torch.view_as_real(h[-1].clone()),)  # ((B, N, 2),): not a view of h

    def parallel(self, x, state):
        y, state = self.recurrence(x, state)  # (T, B, H)
        return self.mix(y), state

    def step(self, x_t, state):
        (h,) = state  # (B, N, 2)
        lam, gamma = self.lam()  # (N,) complex, (N,)
        bx = self.project_in(x_t)  # (B, N): B x_t
        h = lam * torch.view_as_complex(as_float32(h)) + gamma * bx  # (B, N) complex
        return self.mix(self.read_out(h, x_t)), (torch.view_as_real(h),)  # (B, H)
