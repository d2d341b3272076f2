"""The CPU dropout mask (rnnlab/models/dropout.py): the right rate in every lane, the right
scale, independent elements, reproducible from the seed, and gradients through the mask."""

import pytest
import torch

from rnnlab.models.dropout import LANES, dropout, keep_mask


@pytest.mark.parametrize("p", [0.05, 0.15, 0.5, 0.9])
def test_the_mask_drops_p_of_the_elements_in_each_of_the_four_lanes(p):
    torch.manual_seed(0)
    mask = keep_mask((1 << 20,), p, torch.empty(0))
    dropped = round(p * LANES)
    scale = LANES / (LANES - dropped)
    assert torch.all((mask == 0) | torch.isclose(mask, torch.tensor(scale)))
    kept = (mask > 0).float().view(-1, 4)  # the 16-bit lanes of each 64-bit word
    sd = (p * (1 - p) / kept.shape[0]) ** 0.5
    for lane in range(4):
        assert abs(kept[:, lane].mean().item() - (1 - p)) < 5 * sd
    assert mask.mean().item() == pytest.approx(1.0, abs=5 * sd * scale)  # unbiased


def test_neighbouring_elements_are_uncorrelated():
    torch.manual_seed(1)
    kept = (keep_mask((1 << 20,), 0.5, torch.empty(0)) > 0).float()
    for lag in (1, 2, 3, 4, 5, 8):
        a, b = kept[:-lag] - 0.5, kept[lag:] - 0.5
        corr = (a * b).mean().item() / 0.25
        assert abs(corr) < 5 / len(a) ** 0.5, lag


def test_the_seed_reproduces_the_mask_and_the_next_draw_differs():
    like = torch.empty(0, dtype=torch.bfloat16)
    torch.manual_seed(3)
    first, second = keep_mask((7, 5, 3), 0.3, like), keep_mask((7, 5, 3), 0.3, like)
    torch.manual_seed(3)
    assert torch.equal(keep_mask((7, 5, 3), 0.3, like), first)  # 105 elements: not a multiple of 4
    assert not torch.equal(first, second)
    assert first.shape == (7, 5, 3) and first.dtype == torch.bfloat16


def test_gradients_flow_through_the_kept_elements_only():
    x = torch.randn(64, 8, 16, requires_grad=True)
    torch.manual_seed(4)
    y = dropout(x, 0.25)
    y.sum().backward()
    kept = y.detach() != 0
    assert torch.allclose(y.detach()[kept], x.detach()[kept] * LANES / (LANES - LANES // 4))
    assert torch.equal(x.grad != 0, kept)
    assert torch.allclose(x.grad[kept], torch.tensor(4 / 3))


def test_a_rate_just_under_one_still_keeps_a_finite_scale():
    mask = keep_mask((1000,), 0.999999, torch.empty(0))
    assert torch.isfinite(mask).all()
