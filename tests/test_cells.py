"""Scratch cells against torch.nn: outputs, final states and every gradient in float64;
the residual SRN, ReLU, initialisation, the LSTM forget-gate bias, weight exchange, compile
settings, a CLI run."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.config.schema import ModelConfig
from rnnlab.errors import RnnlabError
from rnnlab.models import LanguageModel, check_model
from rnnlab.models.builtin import Builtin
from rnnlab.models.compile import AUTO_MIN_STEPS_CPU, resolve_compile
from rnnlab.models.scratch import Scratch, from_builtin_state_dict, to_builtin_state_dict

REPO = Path(__file__).resolve().parents[1]
T, B, D, H = 6, 3, 5, 4
TIGHT = {"rtol": 1e-10, "atol": 1e-12}
runner = CliRunner()


def twins(cell, layers=1, bidirectional=False, **extra):
    """(builtin, scratch) in float64, the scratch one holding the builtin's weights."""
    torch.manual_seed(0)
    cfg = ModelConfig(
        cell=cell, hidden_size=H, num_layers=layers, bidirectional=bidirectional, **extra
    )
    builtin = Builtin(cfg, D).double()
    scratch = Scratch(dataclasses.replace(cfg, impl="scratch"), D).double()
    scratch.load_state_dict(builtin.state_dict())
    return builtin, scratch


def random_state(cell, layers, dirs):
    def one():
        return torch.randn(layers * dirs, B, H, dtype=torch.float64, requires_grad=True)

    return (one(), one()) if cell == "lstm" else one()


def run_and_differentiate(model, x, state):
    """Outputs, final state and the gradients of a fixed random projection of both with
    respect to every parameter, the input and the initial state."""
    outputs, final = model(x, state)
    finals = final if isinstance(final, tuple) else (final,)
    g = torch.Generator().manual_seed(1)
    loss = sum(
        (t * torch.randn(t.shape, generator=g, dtype=t.dtype)).sum() for t in (outputs, *finals)
    )
    inputs = [x] + ([] if state is None else list(state) if isinstance(state, tuple) else [state])
    named = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, list(named.values()) + inputs)
    return outputs, finals, dict(zip([*named, *(f"input{i}" for i in range(len(inputs)))], grads))


CASES = [
    (cell, layers, bidirectional, with_state)
    for cell, layers, bidirectional, with_state in itertools.product(
        ["rnn", "gru", "lstm"], [1, 2], [False, True], [False, True]
    )
]


@pytest.mark.parametrize("cell,layers,bidirectional,with_state", CASES)
def test_scratch_equals_torch_nn_with_its_weights(cell, layers, bidirectional, with_state):
    builtin, scratch = twins(cell, layers, bidirectional)
    x = torch.randn(T, B, D, dtype=torch.float64, requires_grad=True)
    state = random_state(cell, layers, 2 if bidirectional else 1) if with_state else None
    out_b, finals_b, grads_b = run_and_differentiate(builtin, x, state)
    out_s, finals_s, grads_s = run_and_differentiate(scratch, x, state)
    assert out_s.shape == (T, B, H * (2 if bidirectional else 1))
    torch.testing.assert_close(out_s, out_b, **TIGHT)
    for mine, theirs in zip(finals_s, finals_b, strict=True):
        assert mine.shape == theirs.shape == (layers * (2 if bidirectional else 1), B, H)
        torch.testing.assert_close(mine, theirs, **TIGHT)
    assert grads_s.keys() == grads_b.keys()  # the same parameter names, in the same order
    for name in grads_b:
        torch.testing.assert_close(grads_s[name], grads_b[name], **TIGHT, msg=name)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_relu_rnn_equals_torch_nn(bidirectional):
    builtin, scratch = twins("rnn", 2, bidirectional, nonlinearity="relu")
    x = torch.randn(T, B, D, dtype=torch.float64, requires_grad=True)
    state = random_state("rnn", 2, 2 if bidirectional else 1)
    out_b, finals_b, grads_b = run_and_differentiate(builtin, x, state)
    out_s, finals_s, grads_s = run_and_differentiate(scratch, x, state)
    torch.testing.assert_close(out_s, out_b, **TIGHT)
    for name in grads_b:
        torch.testing.assert_close(grads_s[name], grads_b[name], **TIGHT, msg=name)
    assert (out_s[..., :H] >= 0).all()


def residual_srn_by_hand(model, x, h):
    """nndl 6.5.2 written out: h_t = h_{t-1} + tanh(W x_t + b_ih + U h_{t-1} + b_hh)."""
    w = model.layer
    outputs = []
    for t in range(x.shape[0]):
        h = h + torch.tanh(
            x[t] @ w.weight_ih_l0.T + w.bias_ih_l0 + h @ w.weight_hh_l0.T + w.bias_hh_l0
        )
        outputs.append(h)
    return torch.stack(outputs), h


def test_residual_srn_follows_its_equation_forward_and_backward():
    _, scratch = twins("rnn", residual=False)
    cfg = ModelConfig(cell="rnn", impl="scratch", hidden_size=H, residual=True)
    residual = Scratch(cfg, D).double()
    residual.load_state_dict(scratch.state_dict())
    x = torch.randn(T, B, D, dtype=torch.float64)
    h0 = torch.randn(1, B, H, dtype=torch.float64)
    out, h_n = residual(x, h0)
    expected_out, expected_h = residual_srn_by_hand(residual, x, h0[0])
    torch.testing.assert_close(out, expected_out, **TIGHT)
    torch.testing.assert_close(h_n[0], expected_h, **TIGHT)
    # backward: the hand-written BPTT against autograd through the loop above
    params = list(residual.parameters())
    mine = torch.autograd.grad((out * out.detach().cos()).sum(), params)
    expected_out, _ = residual_srn_by_hand(residual, x, h0[0])
    theirs = torch.autograd.grad((expected_out * out.detach().cos()).sum(), params)
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b, **TIGHT)
    assert not torch.allclose(out, scratch(x, h0)[0])  # the skip connection changes things


def test_one_hot_ids_give_the_numbers_of_one_hot_vectors():
    _, scratch = twins("gru", 2, True)
    ids = torch.randint(D, (T, B))
    from_ids, state_ids = scratch(ids)
    from_vectors, state_vectors = scratch(F.one_hot(ids, D).double())
    torch.testing.assert_close(from_ids, from_vectors, rtol=0, atol=1e-15)
    torch.testing.assert_close(state_ids, state_vectors, rtol=0, atol=1e-15)


def test_dropout_acts_between_layers_in_training_only():
    builtin, scratch = twins("lstm", 2, dropout=0.5)
    x = torch.randn(T, B, D, dtype=torch.float64)
    builtin.eval(), scratch.eval()
    torch.testing.assert_close(scratch(x)[0], builtin(x)[0], **TIGHT)  # eval: no dropout
    scratch.train()
    torch.manual_seed(3)
    dropped = scratch(x)[0]
    assert not torch.allclose(dropped, builtin(x)[0])


def test_default_init_draws_the_same_numbers_as_torch_nn():
    for cell in ["rnn", "gru", "lstm"]:
        torch.manual_seed(7)
        builtin = Builtin(ModelConfig(cell=cell, hidden_size=H, num_layers=2), D)
        torch.manual_seed(7)
        scratch = Scratch(ModelConfig(cell=cell, impl="scratch", hidden_size=H, num_layers=2), D)
        for (name, a), (_, b) in zip(builtin.named_parameters(), scratch.named_parameters()):
            assert torch.equal(a, b), name


@pytest.mark.parametrize("impl", ["builtin", "scratch"])
def test_init_schemes(impl):
    def stack(init, cell="lstm", hidden=64):
        torch.manual_seed(0)
        return (
            dict(
                Scratch(
                    ModelConfig(cell=cell, impl=impl, hidden_size=hidden, init=init), 32
                ).named_parameters()
            )
            if impl == "scratch"
            else dict(
                Builtin(
                    ModelConfig(cell=cell, hidden_size=hidden, init=init), 32
                ).named_parameters()
            )
        )

    normal = stack("normal")
    assert abs(normal["layer.weight_hh_l0"].std().item() - 0.01) < 0.001
    assert not normal["layer.bias_ih_l0"].any() and not normal["layer.bias_hh_l0"].any()
    xavier = stack("xavier")
    bound = (6 / (64 + 32)) ** 0.5  # one gate block of W_ih: fan_in 32, fan_out 64
    assert xavier["layer.weight_ih_l0"].abs().max() <= bound
    assert xavier["layer.weight_ih_l0"].abs().max() > 0.9 * bound
    orthogonal = stack("orthogonal")
    for block in orthogonal["layer.weight_hh_l0"].detach().split(64):  # each gate's U
        torch.testing.assert_close(block @ block.T, torch.eye(64), rtol=0, atol=1e-5)
    default = stack("default")
    assert default["layer.weight_hh_l0"].abs().max() <= 64**-0.5


def test_every_parameter_is_registered_and_follows_the_model_to_its_device():
    torch.manual_seed(0)
    model = LanguageModel(
        10,
        ModelConfig(cell="lstm", impl="scratch", hidden_size=H, num_layers=2, bidirectional=True),
    )
    assert len(list(model.rnn.parameters())) == 2 * 2 * 4  # layers x directions x 4 tensors
    model = model.to("meta")  # a tensor left behind on the CPU would fail below
    assert all(p.device.type == "meta" for p in model.parameters())
    logits, (h, c) = model(torch.zeros(B, T, dtype=torch.long, device="meta"))
    assert logits.device.type == h.device.type == c.device.type == "meta"
    assert logits.shape == (T, B, 10) and h.shape == c.shape == (4, B, H)


def test_state_dicts_exchange_between_scratch_and_builtin():
    torch.manual_seed(0)
    cfg = ModelConfig(cell="gru", impl="scratch", hidden_size=H, num_layers=2, bidirectional=True)
    scratch = LanguageModel(11, cfg)
    builtin = LanguageModel(11, dataclasses.replace(cfg, impl="builtin"))
    builtin.load_state_dict(to_builtin_state_dict(scratch.state_dict(), cfg))  # strict
    tokens = torch.randint(11, (B, T))
    torch.testing.assert_close(builtin(tokens)[0], scratch(tokens)[0], rtol=1e-5, atol=1e-6)
    back = LanguageModel(11, cfg)
    back.load_state_dict(from_builtin_state_dict(builtin.state_dict(), cfg))
    torch.testing.assert_close(back(tokens)[0], scratch(tokens)[0], rtol=0, atol=0)


def test_state_dict_exchange_refuses_what_does_not_fit():
    cfg = ModelConfig(cell="rnn", impl="scratch", hidden_size=H, residual=True)
    with pytest.raises(RnnlabError, match="residual SRN"):
        to_builtin_state_dict(Scratch(cfg, D).state_dict(), cfg)
    lstm = Scratch(ModelConfig(cell="lstm", impl="scratch", hidden_size=H), D).state_dict()
    with pytest.raises(RnnlabError, match="not a gru of 4 units"):
        from_builtin_state_dict(lstm, ModelConfig(cell="gru", hidden_size=H))
    with pytest.raises(RnnlabError, match="no 'weight_ih_l1'"):
        from_builtin_state_dict(lstm, ModelConfig(cell="lstm", hidden_size=H, num_layers=2))


@pytest.mark.parametrize(
    "override,message",
    [
        (["model.residual=true"], "needs model.cell: rnn and model.impl: scratch"),
        (["model.residual=true", "model.cell=rnn"], "got cell rnn with impl builtin"),
        (["model.nonlinearity=relu"], "is for model.cell: rnn"),
        (["model.compile=true"], "builtin layers run torch's own kernels"),
        (["model.compile=fast"], "'model.compile' must be auto or true or false"),
        (["model.init=kaiming"], "'model.init' must be one of default | normal"),
    ],
)
def test_config_refuses_options_the_model_does_not_have(tiny_config, override, message):
    with pytest.raises(RnnlabError, match=message):
        check_model(load_config(tiny_config, override).model)


def test_compile_auto_stays_eager_for_short_cpu_runs_and_compiles_on_cuda():
    scratch = ModelConfig(impl="scratch")
    assert resolve_compile(scratch, "cpu", 150) == (
        False,
        "auto: 150 steps do not repay compiling on a CPU",
    )
    assert resolve_compile(scratch, "cpu", None)[0] is False
    assert resolve_compile(scratch, "cuda", 10) == (True, "auto: CUDA")
    assert resolve_compile(dataclasses.replace(scratch, compile=False), "cuda", 10)[0] is False
    assert resolve_compile(dataclasses.replace(scratch, compile=True), "cpu", 1)[0] is True
    assert resolve_compile(ModelConfig(), "cuda", 10**6)[0] is False  # builtin


def test_compile_auto_on_a_long_cpu_run_needs_a_cpp_compiler(monkeypatch):
    scratch = ModelConfig(impl="scratch")
    monkeypatch.setattr("rnnlab.models.compile.has_cpp_compiler", lambda: True)
    assert resolve_compile(scratch, "cpu", AUTO_MIN_STEPS_CPU) == (
        True,
        f"auto: {AUTO_MIN_STEPS_CPU:,} steps repay compiling",
    )
    monkeypatch.setattr("rnnlab.models.compile.has_cpp_compiler", lambda: False)
    assert resolve_compile(scratch, "cpu", 10 * AUTO_MIN_STEPS_CPU)[0] is False
    with pytest.raises(RnnlabError, match="needs a C\\+\\+ compiler"):
        resolve_compile(dataclasses.replace(scratch, compile=True), "cpu", 1)


@pytest.mark.parametrize("impl", ["builtin", "scratch"])
def test_forget_bias_shifts_only_the_lstm_forget_gates(write_config, impl):
    from rnnlab.models.stack import build_recurrent

    def stack(forget_bias):
        torch.manual_seed(0)
        text = f"model: {{cell: lstm, impl: {impl}, num_layers: 2, bidirectional: true, hidden_size: 4, forget_bias: {forget_bias}}}\n"
        return build_recurrent(load_config(write_config(text)).model, 3).state_dict()

    plain, shifted = stack(0.0), stack(1.5)
    for name, value in plain.items():
        diff = shifted[name] - value
        expected = torch.zeros_like(value)
        if "bias_hh" in name:
            expected[4:8] = 1.5  # gate order i, f, g, o
        assert torch.allclose(diff, expected), name


def test_forget_bias_needs_an_lstm(write_config):
    with pytest.raises(RnnlabError, match="'model.forget_bias' is for model.cell: lstm"):
        check_model(load_config(write_config("model: {cell: gru, forget_bias: 1.0}\n")).model)


def test_a_tiny_scratch_run_trains_saves_and_predicts(tiny_config, tmp_path):
    args = ["train", str(tiny_config), "--out", str(tmp_path), "--quiet"]
    args += ["model.impl=scratch", "model.cell=lstm", "model.num_layers=2", "train.epochs=2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["compiled"] is False  # auto, 2 short epochs on a CPU
    assert summary["final"]["train_ppl"] < 28  # below guessing among the 28 tokens
    checkpoint = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert "rnn.layer.weight_hh_l1" in checkpoint["model"]  # torch.nn's names
    predicted = runner.invoke(
        app, ["predict", "--run", str(run_dir), "--prefix", "time", "-n", "5"]
    )
    assert predicted.exit_code == 0, predicted.output
    assert len(predicted.output.rstrip("\n")) == len("time") + 5
