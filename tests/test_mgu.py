"""The minimal gated unit (rnnlab/models/cells/mgu.py): a cell given by its step equations
only, trained through autograd: its equations, gradients, a deep bidirectional stack, the
config checks, and a real training run whose loss falls."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.config.schema import ModelConfig
from rnnlab.errors import RnnlabError
from rnnlab.models import LanguageModel, check_model
from rnnlab.models.scratch import Scratch, to_builtin_state_dict

T, B, D, H = 5, 3, 4, 3
runner = CliRunner()


def mgu(layers=1, bidirectional=False) -> Scratch:
    torch.manual_seed(0)
    cfg = ModelConfig(cell="mgu", impl="scratch", hidden_size=H, num_layers=layers,
                      bidirectional=bidirectional)  # fmt: skip
    return Scratch(cfg, D).double()


def reference(x, h, w_ih, w_hh, b_ih, b_hh):
    """Zhou et al. (2016)'s equations over a sequence, each matrix split out by hand."""
    W_f, W_h = w_ih[:H], w_ih[H:]
    U_f, U_h = w_hh[:H], w_hh[H:]
    b_f, b_h = b_ih[:H] + b_hh[:H], b_ih[H:] + b_hh[H:]
    out = []
    for x_t in x:
        f = torch.sigmoid(x_t @ W_f.T + h @ U_f.T + b_f)
        h_tilde = torch.tanh(x_t @ W_h.T + (f * h) @ U_h.T + b_h)
        h = (1 - f) * h + f * h_tilde
        out.append(h)
    return torch.stack(out), h


def test_shapes_and_parameters_of_a_deep_bidirectional_stack():
    stack = mgu(layers=2, bidirectional=True)
    params = dict(stack.named_parameters())
    assert params["layer.weight_ih_l0"].shape == (2 * H, D)  # two gate blocks: f, h_tilde
    assert params["layer.weight_ih_l1_reverse"].shape == (2 * H, 2 * H)
    assert params["layer.weight_hh_l1"].shape == (2 * H, H)
    assert len(params) == 2 * 2 * 4
    outputs, h_n = stack(torch.randn(T, B, D, dtype=torch.float64))
    assert outputs.shape == (T, B, 2 * H) and h_n.shape == (2 * 2, B, H)  # h only, no c
    model = LanguageModel(7, ModelConfig(cell="mgu", impl="scratch", hidden_size=H))
    logits, state = model(torch.randint(7, (B, T)))
    assert logits.shape == (T, B, 7) and state.shape == (1, B, H)


def test_the_stack_computes_the_papers_equations_in_both_directions():
    stack = mgu(bidirectional=True)
    x = torch.randn(T, B, D, dtype=torch.float64)
    h0 = torch.randn(2, B, H, dtype=torch.float64)
    outputs, h_n = stack(x, h0)
    p = dict(stack.layer.named_parameters())
    fwd, last = reference(x, h0[0], *(p[f"{n}_l0"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))  # fmt: skip
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    bwd, first = reference(x.flip(0), h0[1], *(p[f"{n}_l0_reverse"] for n in names))
    torch.testing.assert_close(outputs[..., :H], fwd, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(outputs[..., H:], bwd.flip(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_n, torch.stack([last, first]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_autograd_gradients_match_finite_differences(layers, bidirectional):
    stack = mgu(layers, bidirectional)
    names, params = zip(*stack.named_parameters())
    x = torch.randn(T, B, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(layers * (2 if bidirectional else 1), B, H, dtype=torch.float64,
                     requires_grad=True)  # fmt: skip

    def run(x, h0, *weights):
        values = dict(zip(names, weights))
        outputs, h_n = torch.func.functional_call(stack, values, (x, h0))
        return outputs, h_n

    # every entry of the Jacobian for one layer; for the deep stack, random projections of it
    fast = layers > 1
    assert torch.autograd.gradcheck(run, (x, h0, *params), eps=1e-6, atol=1e-6, fast_mode=fast)


def test_config_checks_know_the_cell():
    check_model(ModelConfig(cell="mgu", impl="scratch"))
    with pytest.raises(RnnlabError, match="model.cell: mgu has no torch.nn layer"):
        check_model(ModelConfig(cell="mgu"))  # impl builtin
    with pytest.raises(RnnlabError, match="'model.nonlinearity: relu' is for model.cell: rnn"):
        check_model(ModelConfig(cell="mgu", impl="scratch", nonlinearity="relu"))
    with pytest.raises(RnnlabError, match="is for model.cell: lstm, got mgu"):
        check_model(ModelConfig(cell="mgu", impl="scratch", forget_bias=1.0))
    cfg = ModelConfig(cell="mgu", impl="scratch", hidden_size=H)
    with pytest.raises(RnnlabError, match="mgu has no builtin equivalent"):
        to_builtin_state_dict(Scratch(cfg, D).state_dict(), cfg)


def test_a_tiny_language_model_trains_and_its_loss_falls(tmp_path, tiny_config):
    overrides = ["model.cell=mgu", "model.impl=scratch", "model.hidden_size=32",
                 "data.max_tokens=1000", "train.epochs=3", "optim.lr=0.03",
                 "train.eval_every=3", "train.sample_len=5"]  # fmt: skip
    result = runner.invoke(app, ["train", str(tiny_config), *overrides, "--out",
                                 str(tmp_path), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip())
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["train_loss"]) for r in rows]
    assert len(losses) == 3 and losses[-1] < 0.9 * losses[0], losses  # measured: 2.88 -> 2.27
    saved = load_config(run / "config.yaml").model
    assert dataclasses.asdict(saved)["cell"] == "mgu"
    out = runner.invoke(app, ["predict", "--run", str(run), "--prefix", "the", "-n", "5"])
    assert out.exit_code == 0 and out.stdout.startswith("the"), out.output


def test_the_gradient_flow_log_and_inspect_run_the_cells_own_equations(tmp_path, tiny_config):
    """No list of known cells anywhere: the probe runs MGU.equations, so the gradient-flow
    log trains and `inspect` draws the MGU's one gate f."""
    overrides = ["model.cell=mgu", "model.impl=scratch", "train.log_grad_flow=true",
                 "data.max_tokens=1000", "train.epochs=1", "train.sample_len=5"]  # fmt: skip
    result = runner.invoke(app, ["train", str(tiny_config), *overrides, "--out",
                                 str(tmp_path), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip())
    with open(run / "grad_flow.csv") as f:
        assert {r["curve"] for r in csv.DictReader(f)} == {"h1"}
    inspected = runner.invoke(app, ["inspect", str(run), "--out", str(tmp_path / "inspect")])
    assert inspected.exit_code == 0, inspected.output
    with open(tmp_path / "inspect" / "gates.csv") as f:
        assert {r["gate"] for r in csv.DictReader(f)} == {"f"}
