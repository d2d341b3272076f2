"""One scan primitive: h_t = a_t ⊙ h_{t-1} + b_t over time, for every linear recurrence.

Shapes are time first: `a`, `b` (T, ...) and the initial state `h0` (...); the result `h`
(T, ...) holds h_1 .. h_T (h0 is not repeated). `a` broadcasts against `b` (a decay
(N,) shared by every step and batch row is fine). Three functions:

- `scan_reference(a, b, h0)`: the sequential loop, one step per token. The reference
  for tests; every other form must match it.
- `log_scan(log_a, log_b, log_h0, chunk)`: a, b, h0 > 0 given as logs (real only), the
  form of Heinsen (2023), "Efficient parallelization of a ubiquitous sequential
  computation": with a*_t = Σ_{s<=t} log a_s,
  log h_t = a*_t + logcumsumexp_{s<=t}(log b_s − a*_s), and h0 enters as one more term
  log h0 in that sum. Used by minGRU / minLSTM. Returns h (not its log).
- `linear_scan(a, b, h0, chunk)`: any real sign and complex a, b: a blocked scan inside
  each time chunk (blocks of √L steps scanned side by side, then the state carried from
  block to block and from chunk to chunk); its backward is written out (`_LinearScan`):
  the same scan run backwards in time.

Cost, T steps, n = elements of one step's state (B·N...), L = chunk length:
- `scan_reference`: T·n work, T sequential steps (T kernel launches each way).
- `log_scan`: ~6·T·n work in ⌈T/L⌉ sequential chunk steps of 2 fused passes each
  (cumsum, logcumsumexp); autograd keeps ~4 tensors of (T, n).
- `linear_scan`: ~6·T·n work in ~2·√L sequential steps per chunk (vectorised over
  √L blocks or over the state), the same again backwards; autograd keeps a (as
  broadcast: a decay shared by the batch is small) and h, 2·T·n; the blocks' temporaries
  live only inside one chunk, ~3·L·n.
  A caller that must bound memory further (the S6 layer) scans its own chunks under
  activation checkpointing, so only one chunk's tensors live at a time.

Numerical limits:
- `linear_scan` only multiplies and adds the given numbers (no division, no logs): its
  error is that of the loop, a few ulps per step, whatever a is. |a| near 0 makes the products
  underflow to 0, which is the right answer; |a| > 1 grows as the true recurrence does.
  The chunk bounds memory and the passes; it does not change the accuracy.
- `log_scan` is exact in exact arithmetic for a, b, h0 > 0 (a zero is log = −inf: allowed
  in the forward, but its gradient is NaN). In floating point, a* and log b − a* reach
  magnitude |a*| ≈ Σ|log a| over a chunk, and the sum a*_t + logcumsumexp(...) loses
  ~eps·|a*| of absolute accuracy in log h, i.e. relative accuracy in h. The chunk resets
  a* at every chunk start, bounding that loss to eps·L·max|log a| (float32: L = 16 and
  a >= 1e-3 give ~7e-6). Nothing underflows: h is exp(log h) only at the end, so h itself
  underflows only where the true h is below the dtype's smallest number.
"""

from __future__ import annotations

import math

import torch

LINEAR_CHUNK = 1024  # default time chunk of linear_scan: bounds its temporaries
LOG_CHUNK = 16  # default time chunk of log_scan: bounds |a*| and so its loss of accuracy


def scan_reference(a, b, h0=None):
    """h_t = a_t ⊙ h_{t-1} + b_t by a loop over time; a broadcasts against b (T, ...)."""
    a = torch.broadcast_to(a, b.shape)  # (T, ...)
    h = torch.zeros_like(b[0]) if h0 is None else h0.to(torch.result_type(b, h0))  # (...)
    hs = []
    for t in range(b.shape[0]):
        h = a[t] * h + b[t]  # (...)
        hs.append(h)
    return torch.stack(hs) if hs else b.clone()  # (T, ...)


def log_scan(log_a, log_b, log_h0=None, chunk: int | None = None):
    """h (T, ...) of h_t = a_t h_{t-1} + b_t from log a (broadcasts), log b (T, ...) and
    log h0 (...) or None (h0 = 0), by Heinsen's cumsum / logcumsumexp per time chunk."""
    chunk = chunk or LOG_CHUNK
    log_a = torch.broadcast_to(log_a, log_b.shape)  # (T, ...)
    log_h = log_h0  # (...) or None: the log state carried across chunks
    out = []
    for s in range(0, log_b.shape[0], chunk):
        a_star = torch.cumsum(log_a[s : s + chunk], dim=0)  # (L, ...)
        terms = log_b[s : s + chunk] - a_star  # (L, ...)
        if log_h is not None:
            terms = torch.cat([log_h.unsqueeze(0), terms])  # (L+1, ...)
        lcse = torch.logcumsumexp(terms, dim=0)  # (L or L+1, ...)
        log_hs = a_star + (lcse if log_h is None else lcse[1:])  # (L, ...)
        log_h = log_hs[-1]  # (...)
        out.append(log_hs)
    return torch.exp(torch.cat(out)) if out else torch.exp(log_b)  # (T, ...)


def _blocked(a, b, h0):
    """h (T, ...) of h_t = a_t h_{t-1} + b_t, no autograd, in O(T) work and ~2√T steps:
    cut time into blocks of L = ⌊√T⌋; scan every block at once from a zero state, with
    the running product P of its a (L steps); carry the state from block to block (T/L
    steps); add P ⊙ (the state entering the block). Only products and sums of the given
    numbers, as the loop: no division, no logarithm."""
    T = b.shape[0]
    L = max(1, math.isqrt(T))  # block length
    n = -(-T // L)  # blocks
    pad = n * L - T
    if pad:  # a = 1, b = 0 after the end: the state passes through unchanged
        a = torch.cat([a, a.new_ones((pad, *a.shape[1:]))])  # (n L, ...)
        b = torch.cat([b, b.new_zeros((pad, *b.shape[1:]))])  # (n L, ...)
    a = a.reshape(n, L, *a.shape[1:])  # (n, L, ...)
    b = b.reshape(n, L, *b.shape[1:])  # (n, L, ...)
    h_in = torch.empty(torch.broadcast_shapes(a.shape, b.shape), dtype=b.dtype, device=b.device)
    p_in = torch.empty_like(a, memory_format=torch.contiguous_format)  # (n, L, ...)
    h_in[:, 0], p_in[:, 0] = b[:, 0], a[:, 0]  # in-block state and product of a
    for j in range(1, L):
        torch.addcmul(b[:, j], a[:, j], h_in[:, j - 1], out=h_in[:, j])  # (n, ...)
        torch.mul(a[:, j], p_in[:, j - 1], out=p_in[:, j])  # (n, ...)
    carry = torch.zeros_like(h_in[0, 0]) if h0 is None else h0  # (...)
    starts = []
    for i in range(n):
        starts.append(carry)
        carry = p_in[i, -1] * carry + h_in[i, -1]  # (...): the state leaving block i
    h = h_in + p_in * torch.stack(starts).unsqueeze(1)  # (n, L, ...)
    return h.reshape(n * L, *h.shape[2:])[:T]  # (T, ...)


class _LinearScan(torch.autograd.Function):
    """h = linear_scan(a, b, h0) with its backward written out: the gradient of a linear
    recurrence is the same recurrence run backwards, g_t = dL/dh_t + conj(a_{t+1}) g_{t+1},
    then dL/db_t = g_t, dL/da_t = g_t conj(h_{t-1}), dL/dh0 = conj(a_1) g_1 (conj is the
    identity for real numbers). Saves a (as broadcast) and h, nothing per step."""

    @staticmethod
    def forward(ctx, a, b, h0, chunk: int):
        h = _scan_no_grad(a, b, h0, chunk)  # (T, ...)
        ctx.save_for_backward(a, h, h0)
        ctx.chunk = chunk
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h):
        a, h, h0 = ctx.saved_tensors
        a_next = torch.cat([a[1:].conj(), torch.zeros_like(a[:1])])  # (T, ...): a_{t+1}, 0
        g = _scan_no_grad(a_next.flip(0), grad_h.flip(0), None, ctx.chunk).flip(0)  # (T, ...)
        grad_a = torch.empty_like(g)  # (T, ...): g_t conj(h_{t-1})
        torch.mul(g[1:], h[:-1].conj(), out=grad_a[1:])
        torch.mul(g[0], h0.conj(), out=grad_a[0])
        grad_a = grad_a.sum_to_size(a.shape)  # as a broadcasts
        grad_h0 = (a[0].conj() * g[0]).sum_to_size(h0.shape)  # (...)
        return grad_a, g, grad_h0, None


def _scan_no_grad(a, b, h0, chunk: int):
    """The scan in time chunks, no autograd: h (T, ...); h0 (...) or None."""
    with torch.no_grad():
        out, h = [], h0
        for s in range(0, b.shape[0], chunk):
            hs = _blocked(a[s : s + chunk], b[s : s + chunk], h)  # (L, ...)
            h = hs[-1]  # (...)
            out.append(hs)
        return out[0] if len(out) == 1 else torch.cat(out)  # (T, ...)


def linear_scan(a, b, h0=None, chunk: int | None = None):
    """h (T, ...) of h_t = a_t ⊙ h_{t-1} + b_t for real (any sign) or complex a
    (broadcasts against b (T, ...); a decay without time or batch dimensions keeps its
    products that small) and h0 (...) or None (zeros), in time chunks."""
    chunk = chunk or LINEAR_CHUNK
    dtype = (
        torch.result_type(a, b)
        if h0 is None
        else torch.promote_types(torch.result_type(a, b), h0.dtype)
    )
    b = b.to(dtype)  # (T, ...)
    a = a.to(dtype).reshape((1,) * (b.dim() - a.dim()) + tuple(a.shape))  # rank of b
    a = a.expand(b.shape[0], *a.shape[1:])  # (T, ...): dims of size 1 stay 1, cheap
    if b.shape[0] == 0:
        return b.clone()
    h0 = torch.zeros_like(b[0]) if h0 is None else h0.to(dtype).expand_as(b[0])  # (...)
    return _LinearScan.apply(a, b, h0, chunk)  # (T, ...)
