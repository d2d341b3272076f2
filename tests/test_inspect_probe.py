"""The measuring core of `rnnlab inspect` (rnnlab/models/probe.py) against independent
computations: the linear RNN's (U^T)^k, the models' own forward passes (builtin torch.nn
and scratch), gradients taken by restarting the model's own layer from a state, hand-built
gates, and a unit made by hand to track quotes."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlab.config.schema import ModelConfig
from rnnlab.inference.inspect import gates, units
from rnnlab.models import LanguageModel, SequenceClassifier
from rnnlab.models.probe import grad_flow, logits, probe, unroll


def lm(cell: str, impl: str = "builtin", **kw):
    cfg = ModelConfig(cell=cell, impl=impl, hidden_size=6, embedding=5, compile=False, **kw)
    return LanguageModel(11, cfg).double().eval(), cfg


def test_linear_rnn_gradient_is_u_transpose_to_the_power_k():
    """h_t = U h_{t-1} + W x_t: dL/dh_{T-1-k} = (U^T)^k dL/dh_{T-1}; with U = s Q (Q
    orthogonal) every norm ratio is exactly s^k."""
    torch.manual_seed(0)
    model, cfg = lm("rnn", impl="scratch")
    cfg = dataclasses.replace(cfg, nonlinearity="linear")
    s, H, T = 0.8, 6, 12
    Q, _ = torch.linalg.qr(torch.randn(H, H, dtype=torch.float64))
    with torch.no_grad():
        model.rnn.layer.weight_hh_l0.copy_(s * Q)
    p = probe(model, cfg)
    tokens, targets = torch.randint(0, 11, (4, T)), torch.randint(0, 11, (4, T))
    curve = grad_flow(p, tokens, targets)["h1"]
    ratios = np.array(curve) / curve[0]
    np.testing.assert_allclose(ratios, s ** np.arange(T), rtol=1e-10)
    # the vectors themselves, for one sequence
    x = p.inputs(tokens[:1]).requires_grad_()
    trace = unroll(p, x)
    loss = F.cross_entropy(logits(p, trace)[-1], targets[:1, -1])
    grads = torch.autograd.grad(loss, trace.h[0][0])
    U = s * Q
    for k in range(T):
        expected = grads[-1] @ torch.linalg.matrix_power(U, k)  # (U^T)^k g as a row vector
        torch.testing.assert_close(grads[T - 1 - k], expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_probe_gradients_match_restarting_the_models_own_layer(cell):
    """dL/dh_t (and dL/dc_t) from the step-by-step probe equal the gradient of the loss
    with respect to a state (h_t, c_t) from which the model's own layer (torch.nn, and
    rnnlab's scratch cells) runs the rest of the sequence; scratch and builtin agree to
    1e-6 in float64."""
    torch.manual_seed(1)
    builtin, cfg = lm(cell)
    scratch, scfg = lm(cell, impl="scratch")
    scratch.load_state_dict(builtin.state_dict())
    tokens, targets = torch.randint(0, 11, (3, 8)), torch.randint(0, 11, (3, 8))
    curves = {}
    for name, model, model_cfg in (("builtin", builtin, cfg), ("scratch", scratch, scfg)):
        p = probe(model, model_cfg)
        curves[name] = grad_flow(p, tokens, targets)
        reference = restart_gradients(model, p, tokens, targets)
        for key, values in reference.items():
            np.testing.assert_allclose(curves[name][key], values, rtol=1e-6, atol=1e-12)
    for key in curves["builtin"]:
        np.testing.assert_allclose(curves["builtin"][key], curves["scratch"][key], rtol=1e-6)


def restart_gradients(model, p, tokens, targets) -> dict[str, list[float]]:
    """||dL/dh_t|| by distance, each from the model's own layer restarted at step t (the
    LSTM's dL/dc_t adds the path through h_t by the chain rule)."""
    x = model.embed(tokens.T)  # (T, B, D)
    trace = unroll(p, x)
    T, lstm = x.shape[0], p.memory
    norms = {"h1": [], "c1": []}
    for t in range(T - 1, -1, -1):
        h = trace.h[0][0][t].detach().clone().requires_grad_()  # (B, H)
        c = trace.c[0][0][t].detach().clone().requires_grad_() if lstm else None
        if t == T - 1:
            top = h
        else:
            state = (h[None], c[None]) if lstm else h[None]
            outputs, _ = model.rnn(x[t + 1 :], state)  # (T - 1 - t, B, H)
            top = outputs[-1]
        loss = F.cross_entropy(model.head(top), targets[:, -1], reduction="sum")
        grads = torch.autograd.grad(loss, [h, c] if lstm else [h], allow_unused=True)
        norms["h1"].append(grads[0].norm(dim=1).mean().item())
        if lstm:  # c_t reaches the loss through c_{t+1} and through h_t = o_t * tanh(c_t)
            g = grads[1] if grads[1] is not None else torch.zeros_like(c)
            o = trace.gates[0][0]["o"][t]  # (B, H)
            g = g + grads[0] * o * (1 - torch.tanh(c) ** 2)
            norms["c1"].append(g.norm(dim=1).mean().item())
    return norms if lstm else {"h1": norms["h1"]}


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("impl", ["builtin", "scratch"])
def test_probe_computes_the_models_own_function(cell, impl):
    """Deep and bidirectional, language model and classifier: the probe's logits are the
    model's (float64)."""
    torch.manual_seed(2)
    cfg = ModelConfig(
        cell=cell, impl=impl, hidden_size=5, num_layers=2, bidirectional=True, embedding=4
    )
    tokens = torch.randint(0, 9, (3, 7))
    model = LanguageModel(9, cfg).double().eval()
    p = probe(model, cfg)
    torch.testing.assert_close(logits(p, unroll(p, p.inputs(tokens))), model(tokens)[0])
    classifier = SequenceClassifier(9, 4, cfg).double().eval()
    p = probe(classifier, cfg)
    expected = classifier(tokens, torch.full((3,), 7))
    torch.testing.assert_close(logits(p, unroll(p, p.inputs(tokens))), expected)
    flows = grad_flow(p, tokens, torch.tensor([0, 1, 2]))
    assert set(flows) == {"h1", "h2", "h1_reverse", "h2_reverse"} | (
        {"c1", "c2", "c1_reverse", "c2_reverse"} if cell == "lstm" else set()
    )
    assert all(len(v) == 7 and all(np.isfinite(v)) for v in flows.values())


def subject(model, cfg, ids, kind="lm"):
    data = SimpleNamespace(num_steps=5, token="char")
    return SimpleNamespace(
        trained=model, cfg=SimpleNamespace(model=cfg, data=data), kind=kind, text=ids
    )


@pytest.mark.parametrize(
    "cell, biases, expected",
    [
        ("lstm", {"i": 6.0, "f": -6.0, "o": 0.0}, {"i": "right", "f": "left", "o": "middle"}),
        ("gru", {"r": -6.0, "z": 6.0}, {"r": "left", "z": "right"}),
    ],
)
def test_gate_fractions_of_a_cell_whose_gates_are_constant(cell, biases, expected):
    """Weights zero and biases set: every gate value is sigmoid(bias) at every step."""
    model, cfg = lm(cell, impl="scratch")
    order = {"lstm": ["i", "f", "c", "o"], "gru": ["r", "z", "h"]}[cell]
    with torch.no_grad():
        for name, param in model.rnn.named_parameters():
            param.zero_()
            if name.endswith("bias_ih_l0"):
                for gate, value in biases.items():
                    block = order.index(gate)
                    param[block * 6 : (block + 1) * 6] = value
    rows = gates.fractions(subject(model, cfg, torch.randint(0, 11, (60,))))
    assert {r["gate"] for r in rows} == set(expected)
    for row in rows:
        assert row[expected[row["gate"]]] == 1.0
        assert row["left"] + row["middle"] + row["right"] == pytest.approx(1.0)
        assert len(row["unit_left"]) == 6


def test_text_properties():
    text = 'ab "c(d)"\n x'
    props = units.properties(list(text))
    np.testing.assert_array_equal(props["inside quotes"], [0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(props["inside parentheses"], [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(props["start of word"], [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(props["position in word"], [1, 2, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(props["after newline"], [0] * 10 + [1, 0])
    assert props["position in line"][-1] == 2 and np.isnan(props["position in line"][0])
    assert "inside quotes" not in units.properties(list("no quotes here"))


def quote_tracking_model(vocab: list[str], unit: int = 2):
    """An LSTM whose unit `unit` flips its memory cell at each '"': c = +1 inside quotes,
    -1 after a closing quote (0 before the first); the other units are random."""
    torch.manual_seed(3)
    cfg = ModelConfig(cell="lstm", impl="builtin", hidden_size=4, compile=False)
    model = LanguageModel(len(vocab), cfg).double().eval()
    q, H = vocab.index('"'), 4
    layer = model.rnn.layer
    with torch.no_grad():
        for param in (layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0):
            param[unit::H] = 0.0  # every gate row of the unit: i, f, g, o
        i, f, g, o = (unit + k * H for k in range(4))
        layer.weight_ih_l0[i, q], layer.bias_ih_l0[i] = 20.0, -10.0  # write only at a quote
        layer.weight_ih_l0[f, q], layer.bias_ih_l0[f] = -20.0, 10.0  # forget only at a quote
        layer.weight_hh_l0[g, unit], layer.bias_ih_l0[g] = -20.0, 5.0  # the opposite sign
        layer.bias_ih_l0[o] = 10.0  # always show the cell
    return model, cfg


def test_a_unit_made_to_track_quotes_is_found():
    rng = np.random.default_rng(0)
    words = ["he", "said", '"yes"', "then", '"no', 'way"', "ok", "and"]
    text = " ".join(rng.choice(words, 150))
    vocab = sorted(set(text))
    model, cfg = quote_tracking_model(vocab)
    ids = torch.tensor([vocab.index(ch) for ch in text])
    layers = units.activations(subject(model, cfg, ids), ids)
    acts = np.concatenate(layers, 1)  # (N, 4)
    props = units.properties(list(text))
    r = units.correlations(acts, props)
    column = list(props).index("inside quotes")
    assert np.nanargmax(np.abs(r[:, column])) == 2
    assert r[2, column] > 0.9
    ranked = units.rank(units.unit_names(layers), r, list(props))
    assert {"unit": "1:2", "property": "inside quotes"}.items() <= ranked[0].items()
