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
- `linear_scan(a, b, h0, chunk)`: any real sign and complex a, b: recursive doubling
  (Hillis & Steele) inside each time chunk, the state carried from chunk to chunk.

Cost, T steps, n = elements of one step's state (B·N...), L = chunk length:
- `scan_reference`: T·n work, T sequential steps (T kernel launches each way).
- `log_scan`: ~6·T·n work in ⌈T/L⌉ sequential chunk steps of 2 fused passes each
  (cumsum, logcumsumexp); autograd keeps ~4 tensors of (T, n).
- `linear_scan`: ~3·T·n·⌈log2 L⌉ work in ⌈T/L⌉ chunk steps of ⌈log2 L⌉ passes each;
  autograd keeps ~2·⌈log2 L⌉ tensors of (L, n) per chunk, so ~2·T·n·log2 L in all.
  A caller that must bound memory further (the S6 layer) scans its own chunks under
  activation checkpointing, so only one chunk's tensors live at a time.

Numerical limits:
- `linear_scan` only multiplies and adds the given numbers (no division, no logs): its
  error is a few ulps times log2 L, whatever a is. |a| near 0 makes the products
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

import torch

LINEAR_CHUNK = 256  # default time chunk of linear_scan: bounds the doubling's passes and memory
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


def _doubling(a, b):
    """Inclusive scan of the pairs (a_t, b_t) under (a1, b1)∘(a2, b2) = (a2 a1, a2 b1 + b2),
    by recursive doubling: returns A_t = Π_{s<=t} a_s and B_t = h_t started from h = 0."""
    k = 1
    while k < b.shape[0]:
        b = torch.cat([b[:k], a[k:] * b[:-k] + b[k:]])  # (L, ...): uses the old a
        a = torch.cat([a[:k], a[k:] * a[:-k]])  # (L, ...)
        k *= 2
    return a, b


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
    h = h0  # (...) or None: the state carried across chunks
    out = []
    for s in range(0, b.shape[0], chunk):
        prod_a, hs = _doubling(a[s : s + chunk], b[s : s + chunk])  # (L, ...) each
        if h is not None:
            hs = prod_a * h + hs  # (L, ...): the carried state decayed through the chunk
        h = hs[-1]  # (...)
        out.append(hs)
    return torch.cat(out) if out else b.clone()  # (T, ...)
