"""IndRNN (Li et al. 2018): the stack computes the paper's equations (a hand loop), its
autograd gradients match finite differences, the recurrent weights stay within
recurrent_max^(1/T) after every step, and a trained model exports as TorchScript."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.config.schema import ModelConfig
from rnnlab.errors import RnnlabError
from rnnlab.models import check_model
from rnnlab.models.scratch import Scratch

REPO = Path(__file__).resolve().parents[1]
T, B, D, H = 5, 3, 4, 3
runner = CliRunner()


def indrnn(layers=1, bidirectional=False, **options) -> Scratch:
    torch.manual_seed(0)
    cfg = ModelConfig(cell="indrnn", impl="scratch", hidden_size=H, num_layers=layers,
                      bidirectional=bidirectional, options=options)  # fmt: skip
    return Scratch(cfg, D).double()


def reference(x, h, w_ih, u, b_ih, b_hh, act=torch.relu):
    """h_t = act(W x_t + u * h_{t-1} + b), step by step."""
    out = []
    for x_t in x:
        h = act(x_t @ w_ih.T + u * h + b_ih + b_hh)
        out.append(h)
    return torch.stack(out), h


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_the_stack_computes_the_papers_equations_in_both_directions(activation):
    stack = indrnn(bidirectional=True, activation=activation)
    act = torch.relu if activation == "relu" else torch.tanh
    assert stack.layer.weight_hh_l0.shape == (H,)  # u is a vector
    x = torch.randn(T, B, D, dtype=torch.float64)
    h0 = torch.randn(2, B, H, dtype=torch.float64)
    out, h_n = stack(x, h0)
    fwd, h_fwd = reference(x, h0[0], *stack.layer.of(0, 0), act=act)
    rev, h_rev = reference(x.flip(0), h0[1], *stack.layer.of(0, 1), act=act)
    torch.testing.assert_close(out, torch.cat([fwd, rev.flip(0)], 2))
    torch.testing.assert_close(h_n, torch.stack([h_fwd, h_rev]))


def test_autograd_gradients_match_finite_differences():
    stack = indrnn(layers=2, activation="tanh")  # tanh: smooth, so finite differences hold
    x = torch.randn(T, B, D, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in stack.named_parameters()]
    weights = [p.detach().clone().requires_grad_() for p in stack.parameters()]

    def outputs(x, *w):
        return torch.func.functional_call(stack, dict(zip(names, w)), (x,))[0]  # (T, B, H)

    assert torch.autograd.gradcheck(outputs, (x, *weights))


def test_training_keeps_u_within_recurrent_max_and_the_model_exports(tmp_path):
    """recurrent_max 0.01 over T = 10 steps: |u| <= 0.01^(1/10) = 0.63 after every step (u
    starts in U(0, 1) with model.init: orthogonal, so the clip has work to do), in the
    weights and in their average (the clip comes before the average's update)."""
    argv = ["train", str(REPO / "configs" / "tiny_indrnn.yaml"), "train.epochs=1",
            "model.options={recurrent_max: 0.01}", "optim.average=ema",
            "--out", str(tmp_path), "--quiet"]  # fmt: skip
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip())
    bound = 0.01 ** (1 / 10)
    for which in ("last", "best"):  # best.pt: the EMA, of weights clipped before averaging
        u = torch.load(run / "checkpoints" / f"{which}.pt", weights_only=True)["model"]
        assert u["rnn.layer.weight_hh_l0"].abs().max() <= bound + 1e-6, which
    out = tmp_path / "model.pt"
    exported = runner.invoke(
        app, ["export", str(run), "--format", "torchscript", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output


def test_the_constrain_callback_clips_u_after_a_step():
    from types import SimpleNamespace

    from rnnlab.training.callbacks.constrain import constrain

    stack = indrnn(layers=2, bidirectional=True, recurrent_max=4.0)
    cfg = load_config(REPO / "configs" / "tiny_indrnn.yaml", ["data.num_steps=2"])
    callback = constrain(SimpleNamespace(model=stack, cfg=cfg))
    with torch.no_grad():
        for p in stack.parameters():
            p.fill_(-5.0)
    callback.on_step(None, None)
    for name, p in stack.named_parameters():  # |u| <= 4^(1/2); W and b untouched
        assert (p == (-2.0 if ".weight_hh" in name else -5.0)).all(), name
    assert constrain(SimpleNamespace(model=indrnn(recurrent_max=None), cfg=cfg)) is not None


def test_config_checks_know_indrnns_keys():
    cfg = load_config(REPO / "configs" / "tiny_indrnn.yaml")
    check_model(cfg.model)
    assert cfg.model.options == {"activation": "relu", "recurrent_max": 2.0}  # the defaults
    bad = dataclasses.replace(cfg.model, options={"activation": "sigmoid"})
    with pytest.raises(RnnlabError, match="'model.options.activation' must be one of relu"):
        check_model(bad)
    with pytest.raises(RnnlabError, match="has no torch.nn layer"):
        check_model(dataclasses.replace(cfg.model, impl="builtin", options={}))
