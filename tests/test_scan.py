"""The scan primitive (rnnlab/models/scan.py) against its sequential loop: lengths 1 to
2048, decays near 0 and near 1, real (any sign) and complex, with and without an
initial state, float32 and float64, and gradients by gradcheck."""

import pytest
import torch

from rnnlab.models.scan import linear_scan, log_scan, scan_reference

LENGTHS = [1, 2, 17, 256, 2048]
# |a| ranges: near 0, near 1, and everything between
DECAYS = {"near0": (1e-3, 1e-2), "near1": (0.99, 0.9999), "spread": (1e-4, 1.0)}
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def _inputs(T, decay, complex_, signed, seed=0, shape=(3, 5)):
    """a, b (T, *shape) and h0 (*shape) in float64 (complex128 when complex_)."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = DECAYS[decay]
    mag = torch.empty(T, *shape, dtype=torch.float64).uniform_(lo, hi, generator=g)
    b = torch.rand(T, *shape, dtype=torch.float64, generator=g) + 0.01
    h0 = torch.rand(*shape, dtype=torch.float64, generator=g) + 0.01
    if complex_:
        phase = torch.rand(T, *shape, dtype=torch.float64, generator=g) * 2 * torch.pi
        a = torch.polar(mag, phase)
        b = torch.polar(b, torch.rand(b.shape, dtype=torch.float64, generator=g) * 6.28)
        h0 = h0.to(torch.complex128)
    elif signed:
        sign = torch.randint(0, 2, mag.shape, generator=g) * 2 - 1
        a, b = mag * sign, b * (torch.randint(0, 2, b.shape, generator=g) * 2 - 1)
    else:
        a = mag
    return a, b, h0


def _close(got, want, tol):
    scale = want.abs().clamp_min(1.0)  # relative where |h| > 1, absolute below
    err = ((got.to(want.dtype) - want).abs() / scale).max().item()
    assert err <= tol, f"max error {err:.3g} > {tol}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["real", "signed", "complex"])
@pytest.mark.parametrize("decay", DECAYS)
def test_linear_scan_matches_the_loop(dtype, kind, decay):
    for T in LENGTHS:
        a, b, h0 = _inputs(T, decay, kind == "complex", kind == "signed", seed=T)
        want = scan_reference(a, b, h0)  # (T, 3, 5) in 64-bit
        cast = (
            dtype
            if kind != "complex"
            else {torch.float32: torch.complex64}.get(dtype, torch.complex128)
        )
        for h in (h0, None):
            got = linear_scan(a.to(cast), b.to(cast), None if h is None else h.to(cast))
            assert got.dtype == cast and got.shape == b.shape
            _close(got, want if h is not None else scan_reference(a, b), TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("decay", DECAYS)
def test_log_scan_matches_the_loop(dtype, decay):
    for T in LENGTHS:
        a, b, h0 = _inputs(T, decay, False, False, seed=T)
        la, lb, lh = a.log().to(dtype), b.log().to(dtype), h0.log().to(dtype)
        _close(log_scan(la, lb, lh), scan_reference(a, b, h0), TOL[dtype])
        _close(log_scan(la, lb), scan_reference(a, b), TOL[dtype])


def test_the_chunk_changes_nothing_but_the_work():
    a, b, h0 = _inputs(100, "spread", True, False)
    full = linear_scan(a, b, h0, chunk=128)
    for chunk in (1, 3, 64):
        _close(linear_scan(a, b, h0, chunk=chunk), full, 1e-12)
    la, lb, lh = (x.abs().log() for x in (a, b, h0))
    for chunk in (1, 7, 100):
        _close(log_scan(la, lb, lh, chunk=chunk), log_scan(la, lb, lh), 1e-12)


def test_a_broadcasts_over_time_and_batch():
    a, b, h0 = _inputs(40, "spread", True, False, shape=(2, 4))
    lam = a[0, 0]  # (4,): one decay per state, shared by every step and row
    _close(linear_scan(lam, b, h0), scan_reference(lam.expand_as(b), b, h0), 1e-12)


def test_a_zero_decay_cuts_the_past():
    b = torch.arange(1.0, 7.0).reshape(6, 1)  # (T, 1)
    a = torch.tensor([0.5, 0.5, 0.0, 0.5, 0.5, 0.5]).reshape(6, 1)
    h = linear_scan(a, b, torch.tensor([100.0]))
    assert h[2].item() == 3.0  # h_3 = 0 * h_2 + 3
    torch.testing.assert_close(h, scan_reference(a, b, torch.tensor([100.0])))


def test_gradients_linear_scan():
    a, b, h0 = _inputs(9, "spread", True, False, shape=(2,))
    args = [x.clone().requires_grad_() for x in (a, b, h0)]
    assert torch.autograd.gradcheck(lambda a, b, h: linear_scan(a, b, h, chunk=4), args)
    a, b, h0 = _inputs(9, "spread", False, True, shape=(2,))
    args = [x.clone().requires_grad_() for x in (a, b, h0)]
    assert torch.autograd.gradcheck(lambda a, b, h: linear_scan(a, b, h, chunk=4), args)


def test_gradients_log_scan():
    a, b, h0 = _inputs(9, "spread", False, False, shape=(2,))
    args = [x.log().requires_grad_() for x in (a, b, h0)]
    assert torch.autograd.gradcheck(lambda a, b, h: log_scan(a, b, h, chunk=4), args)
