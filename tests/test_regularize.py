"""Regularising a recurrent language model: tied weights, locked dropout, token
dropout, weight drop for builtin and scratch stacks, the adaptive softmax and Zaremba's
uniform init."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config.schema import ModelConfig
from rnnlab.errors import RnnlabError
from rnnlab.models import LanguageModel, SequenceClassifier
from rnnlab.models.regularize import SequenceDropout, TokenDropout
from rnnlab.tasks import BatchResult
from rnnlab.training.loop import minimised

REPO = Path(__file__).resolve().parents[1]
V = 30
runner = CliRunner()


def model(**changes) -> LanguageModel:
    cfg = ModelConfig(cell="lstm", hidden_size=12, num_layers=2, embedding=12)
    torch.manual_seed(0)
    return LanguageModel(V, dataclasses.replace(cfg, **changes))


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("impl", ["builtin", "scratch"])
def test_tied_weights_share_storage_and_save_v_times_e_parameters(impl):
    tied, untied = model(impl=impl, tie_weights=True), model(impl=impl)
    assert tied.head.weight is tied.embed.weight
    assert tied.head.weight.data_ptr() == tied.embed.weight.data_ptr()
    assert n_params(untied) - n_params(tied) == V * 12
    tokens = torch.randint(0, V, (3, 5))
    loss, _, _ = tied.loss(tokens, tokens)
    loss.backward()  # one gradient, from both uses
    with torch.no_grad():
        tied.embed.weight[0, 0] += 1.0
    assert tied.head.weight[0, 0] == tied.embed.weight[0, 0]
    state = tied.state_dict()
    again = model(impl=impl, tie_weights=True)
    again.load_state_dict(state)
    assert again.head.weight is again.embed.weight


def test_locked_dropout_keeps_one_mask_over_time():
    x = torch.ones(20, 4, 16)  # (T, B, D)
    torch.manual_seed(0)
    locked = SequenceDropout(0.5, locked=True)(x)
    assert torch.equal(locked, locked[:1].expand_as(locked))  # every step the same mask
    assert 0 < (locked[0] == 0).float().mean() < 1  # something dropped, not everything
    assert set(locked.unique().tolist()) == {0.0, 2.0}  # kept units scaled by 1/(1-p)
    assert not torch.equal(locked[:, 0], locked[:, 1])  # one mask per sequence
    plain = SequenceDropout(0.5, locked=False)(x)
    assert not torch.equal(plain, plain[:1].expand_as(plain))
    assert torch.equal(SequenceDropout(0.5, locked=True).eval()(x), x)


def test_token_dropout_blanks_whole_tokens_in_training_only():
    x = torch.rand(50, 40, 8) + 1  # (T, B, D), no zero anywhere
    torch.manual_seed(0)
    out = TokenDropout(0.2)(x)
    blank = (out == 0).all(-1)  # (T, B): tokens whose whole vector is zero
    assert torch.equal((out == 0).any(-1), blank)  # a token is blanked whole or not at all
    assert 0.15 < blank.float().mean() < 0.25  # about p of them
    assert torch.equal(out[~blank], x[~blank])  # the rest exactly as they were, unscaled
    assert torch.equal(TokenDropout(0.2).eval()(x), x)


def test_a_language_model_blanks_input_tokens_before_its_stack():
    m = model(token_dropout=0.5)
    seen = []
    m.rnn.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    tokens = torch.randint(0, V, (4, 9))
    m(tokens)
    assert (seen[0] == 0).all(-1).any()  # (T, B, D): some tokens blanked
    m.eval()
    m(tokens)
    assert not (seen[1] == 0).all(-1).any()  # none in evaluation
    assert torch.equal(m(tokens)[0], m(tokens)[0])


def test_a_language_model_applies_locked_dropout_to_its_outputs():
    m = model(output_dropout=0.5, locked_dropout=True)
    seen = []
    m.head.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    m(torch.randint(0, V, (2, 9)))
    zeros = seen[0] == 0  # (T, B, H): the dropped units
    assert zeros.any() and torch.equal(zeros, zeros[:1].expand_as(zeros))


@pytest.mark.parametrize("impl", ["builtin", "scratch"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_weight_drop_drops_recurrent_weights_in_training_only(impl, cell):
    m = model(impl=impl, cell=cell, weight_drop=0.5)
    plain = model(impl=impl, cell=cell)  # the same draws, no weight drop
    tokens = torch.randint(0, V, (4, 7))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    a, b = m(tokens)[0], m(tokens)[0]
    assert not torch.allclose(a, b)  # a fresh mask per forward in training
    loss, _, _ = m.loss(tokens, tokens)
    loss.backward()
    grad = m.rnn.layer.weight_hh_l0.grad  # (G*H, H): zero where the connection was dropped
    assert 0.3 < (grad == 0).float().mean() < 0.7
    assert (m.rnn.layer.weight_ih_l0.grad == 0).float().mean() < 0.1  # input weights kept
    for key, value in m.state_dict().items():  # the parameters themselves never change
        assert torch.equal(value, before[key]), key
    m.eval()
    first, second = m(tokens)[0], m(tokens)[0]
    assert torch.equal(first, second)  # eval: deterministic
    assert torch.allclose(first, plain.eval()(tokens)[0])  # with the weights as they are
    assert list(m.state_dict()) == list(plain.state_dict())  # the same names (checkpoints)


def test_weight_drop_keeps_the_builtin_layer_whole():
    """AWD-LSTM's WeightDrop replaces the registered parameter, which breaks
    flatten_parameters and state_dicts; here the layer's parameters stay registered."""
    m = model(impl="builtin", weight_drop=0.5)
    tokens = torch.randint(0, V, (2, 5))
    m(tokens)[0].sum().backward()
    layer = m.rnn.layer
    layer.flatten_parameters()
    assert all(isinstance(w, torch.nn.Parameter) for w in layer._flat_weights)
    assert [n for n, _ in layer.named_parameters()][:4] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
    ]


def test_adaptive_softmax_gives_log_probabilities_and_the_same_loss():
    m = model(softmax="adaptive", adaptive_cutoffs=[5, 15], hidden_size=16).eval()
    tokens = torch.randint(0, V, (3, 6))
    log_probs, _ = m(tokens)  # (T, B, V)
    assert log_probs.shape == (6, 3, V)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(6, 3), atol=1e-5)
    loss, _, _ = m.loss(tokens, tokens)
    by_hand = F.nll_loss(log_probs.reshape(-1, V), tokens.T.reshape(-1))
    assert torch.allclose(loss, by_hand, atol=1e-5)
    assert n_params(m) < n_params(model(hidden_size=16))  # the tail clusters are smaller
    with pytest.raises(RnnlabError, match=r"below the vocabulary size \(30\), got \[5, 30\]"):
        model(softmax="adaptive", adaptive_cutoffs=[5, 30])
    with pytest.raises(RnnlabError, match="2 tail clusters need at least 16 hidden units"):
        model(softmax="adaptive", adaptive_cutoffs=[5, 15])  # 12 units


def test_uniform_init_draws_every_parameter_in_range():
    m = model(init="uniform", init_range=0.05, forget_bias=1.0)
    for name, param in m.named_parameters():
        if "bias_hh" in name:  # the forget gates' rows get +1 after the draw
            assert (param[12:24] > 0.9).all() and param[:12].abs().max() <= 0.05
        else:
            assert param.abs().max() <= 0.05, name
            assert param.abs().max() > 0.04, name  # drawn, not left at zero
    assert model(init="uniform").embed.weight.abs().max() <= 0.1
    cfg = ModelConfig(impl="scratch", hidden_size=8, init="uniform", init_range=0.01)
    classifier = SequenceClassifier(V, 2, cfg)  # its recurrent layers draw the same way
    assert 0.009 < classifier.encoder.stack.layer.weight_hh_l0.abs().max() <= 0.01


def test_uniform_init_draws_each_scratch_weight_once():
    """One draw per parameter, in registration order: the stack's weights are the numbers
    a fresh generator gives for their shapes (a second draw would give others)."""
    from rnnlab.models.stack import build_recurrent

    cfg = ModelConfig(impl="scratch", hidden_size=4, init="uniform", init_range=0.3)
    torch.manual_seed(7)
    stack = build_recurrent(cfg, 3)
    torch.manual_seed(7)
    for name, param in stack.named_parameters():
        expected = torch.empty(param.shape).uniform_(-0.3, 0.3)
        torch.testing.assert_close(param.detach(), expected, msg=name)


def outputs_of(m: LanguageModel) -> list[torch.Tensor]:
    """Filled, on the next call, with the stack's outputs and the output layer's input."""
    seen: list[torch.Tensor] = []
    m.rnn.register_forward_hook(lambda mod, args, out: seen.append(out[0]))
    m.head.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    return seen


@pytest.mark.parametrize("impl", ["builtin", "scratch"])
def test_ar_and_tar_are_awd_lstms_penalties_in_training_only(impl):
    m = model(impl=impl, ar=2.0, tar=3.0, output_dropout=0.5, locked_dropout=True)
    tokens = torch.randint(0, V, (3, 7))  # (B, T)
    seen = outputs_of(m)
    torch.manual_seed(1)
    loss, penalty, _ = m.loss(tokens, tokens)
    raw, dropped = seen  # (T, B, H) each: before and after output dropout
    assert not torch.equal(raw, dropped)
    by_hand = 2.0 * (dropped**2).mean() + 3.0 * ((raw[1:] - raw[:-1]) ** 2).mean()
    assert penalty.item() == pytest.approx(by_hand.item(), rel=1e-6)
    plain = model(impl=impl, output_dropout=0.5, locked_dropout=True)  # the same draws
    torch.manual_seed(1)
    plain_loss, none, _ = plain.loss(tokens, tokens)
    assert none is None and loss.item() == pytest.approx(plain_loss.item(), rel=1e-6)
    m.eval()
    assert m.loss(tokens, tokens)[1] is None  # evaluation scores the loss alone
    (loss + penalty).backward()
    assert m.rnn.layer.weight_hh_l1.grad is not None


def test_the_loop_minimises_ar_but_reports_the_loss_alone(tmp_path):
    def rows(*options):
        args = ["train", str(REPO / "configs" / "tiny.yaml"), "--out", str(tmp_path), "--quiet"]
        args += ["model.embedding=8", "train.epochs=1", "train.eval_every_steps=1", *options]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        run_dir = Path(result.output.strip().splitlines()[-1])
        lines = (run_dir / "metrics.csv").read_text().splitlines()
        header = lines[0].split(",")
        return [float(line.split(",")[header.index("train_loss")]) for line in lines[1:]]

    plain, regularised = rows(), rows("model.ar=50", "model.tar=50")
    assert plain[0] == regularised[0]  # the first step's loss, before any update: no penalty
    assert plain[1] != regularised[1]  # the penalty changed the first update


@pytest.mark.parametrize("reduction, scale", [("mean", 1), ("sum", 6)])
def test_the_penalty_is_summed_with_the_loss_when_the_loss_is_summed(reduction, scale):
    plain = BatchResult(torch.tensor(2.0), 6, 6)
    regularised = BatchResult(torch.tensor(2.0), 6, 6, penalty=torch.tensor(0.5))
    assert minimised(plain, reduction).item() == 2.0 * scale
    assert minimised(regularised, reduction).item() == 2.5 * scale  # per prediction, as the loss


REGULARISED = [
    "model.tie_weights=true",
    "model.embed_dropout=0.2",
    "model.output_dropout=0.3",
    "model.locked_dropout=true",
    "model.token_dropout=0.1",
    "model.weight_drop=0.3",
]
ADAPTIVE = ["model.softmax=adaptive", "model.adaptive_cutoffs=[4]", "model.weight_drop=0.3"]


@pytest.mark.parametrize("options", [REGULARISED, ADAPTIVE], ids=["tied-dropouts", "adaptive"])
def test_a_regularised_word_model_trains_and_predicts(tmp_path, options):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat and the dog sat on the log\n" * 30)
    args = ["train", str(REPO / "configs" / "tiny.yaml"), "--out", str(tmp_path), "--quiet"]
    args += ["data.dataset=text", f"data.path={corpus}", "data.token=word", "data.max_tokens=300"]
    args += ["model.cell=lstm", "model.embedding=16", "model.hidden_size=16", "train.epochs=2"]
    args += [*options, "train.prefixes=[the]"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["final"]["val_ppl"] < 12  # better than guessing among the 12 words
    predicted = runner.invoke(app, ["predict", "--run", str(run_dir), "--prefix", "the", "-n", "3"])
    assert predicted.exit_code == 0, predicted.output
    assert predicted.output.split()[0] == "the" and len(predicted.output.split()) == 4
