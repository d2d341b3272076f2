"""Inside a recurrent model, step by step: every time step's hidden state h_t (and LSTM
memory cell c_t) as a tensor autograd can differentiate to, and every step's gates.

torch.nn's layers (cuDNN, oneDNN) and the scratch stack's `Sequence` node run a whole
sequence as one operation, so neither shows a step's h_t to autograd. `probe` copies the
weights of any rnnlab model (a language model or a classifier, builtin or scratch: both
use torch.nn's parameter names and gate order, see cells.py) and `unroll` runs the
cell's own step equations again (`Cell.equations`, rnnlab/models/cells), one step at a
time, from those copies; the cell's spec says whether its state has a memory cell c.

The copies are detached (float64 by default, so gradients that vanish to 1e-40 stay
measurable), so measuring never touches the model's parameters or their `.grad`; there
is no dropout (eval mode). `grad_flow` gives ||dL/dh_t|| against the distance from the
loss. Used by `rnnlab inspect` and by the training callback of `train.log_grad_flow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.errors import RnnlabError

from .cells import CELLS


@dataclass
class Direction:
    """The weights of one direction of one layer, torch.nn's shapes and gate order."""

    w_ih: torch.Tensor  # (G*H, D)
    w_hh: torch.Tensor  # (G*H, H), or (G*H,) for a diagonal recurrence (IndRNN)
    b_ih: torch.Tensor  # (G*H,)
    b_hh: torch.Tensor  # (G*H,)
    reverse: bool  # runs from the last step to the first


@dataclass
class Probe:
    """A model's weights as plain tensors: input, recurrent layers, output head."""

    kind: str  # "lm" (a logit per step) or "classifier" (one logit vector per sequence)
    cell: Any  # the cell's equations (a `Cell` of rnnlab.models.cells), built from the config
    memory: bool  # the state is (h, c)
    gates: int  # gate blocks G of the cell's weights
    layers: list[list[Direction]]  # [layer][direction]
    embed: torch.Tensor | None  # (V, D) a learned embedding; None: one-hot input
    vocab_size: int
    head_w: torch.Tensor  # (V or C, H * directions)
    head_b: torch.Tensor

    @property
    def hidden_size(self) -> int:
        return self.layers[0][0].w_ih.shape[0] // self.gates  # W_ih: (G*H, D)

    @property
    def directions(self) -> int:
        return len(self.layers[0])

    def inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) ids -> the first layer's input (T, B, D)."""
        if self.embed is None:
            return F.one_hot(tokens.T, self.vocab_size).to(self.head_w.dtype)
        return self.embed[tokens.T]


@dataclass
class Trace:
    """What `unroll` saw. Lists are [layer][direction]; steps are in time order."""

    h: list[list[list[torch.Tensor]]]  # [l][d][t] -> h_t (B, H)
    c: list[list[list[torch.Tensor]]] | None  # LSTM memory cells, same layout; else None
    gates: list[list[dict[str, torch.Tensor]]]  # [l][d][gate] -> (T, B, H): i, f, o or r, z
    outputs: torch.Tensor  # (T, B, H * directions): the top layer's states
    last: list[list[tuple]] = field(default_factory=list)  # [l][d] -> (h, c) after the last step


def probe(model: nn.Module, model_cfg, dtype: torch.dtype = torch.float64) -> Probe:
    """The weights of a `LanguageModel` or `SequenceClassifier` (rnnlab.models), copied."""
    from .classifier import SequenceClassifier
    from .lm import LanguageModel, OneHot

    if next(model.parameters()).device.type == "mps":
        dtype = torch.float32  # MPS has no float64

    def copy(t: torch.Tensor) -> torch.Tensor:
        return t.detach().to(dtype)

    if isinstance(model, SequenceClassifier):
        kind, encoder = "classifier", model.encoder
        if encoder.bidirectional:
            pairs = zip(encoder.forward_layers, encoder.reverse_layers)
            layers = [[_direction(f, "_l0", False), _direction(r, "_l0", True)] for f, r in pairs]
        else:
            layers = _stack_layers(encoder.stack, model_cfg)
    else:
        assert isinstance(model, LanguageModel)  # the two kinds of rnnlab model
        kind, layers = "lm", _stack_layers(model.rnn, model_cfg)
    embed, head = model.embed, model.head
    assert isinstance(embed, (nn.Embedding, OneHot))  # make_input's two inputs
    assert isinstance(head, nn.Linear)  # not the adaptive softmax: it has no one weight
    spec = CELLS.get(model_cfg.cell)
    return Probe(
        kind=kind,
        cell=spec.build(model_cfg),
        memory=spec.memory,
        gates=spec.gates,
        layers=[
            [Direction(copy(d[0]), copy(d[1]), copy(d[2]), copy(d[3]), d[4]) for d in layer]
            for layer in layers
        ],
        embed=copy(embed.weight) if isinstance(embed, nn.Embedding) else None,
        vocab_size=embed.num_embeddings if isinstance(embed, nn.Embedding) else embed.vocab_size,
        head_w=copy(head.weight),
        head_b=copy(head.bias),
    )


def _stack_layers(stack: nn.Module, model_cfg) -> list[list[tuple]]:
    dirs = 2 if model_cfg.bidirectional else 1
    return [
        [_direction(stack, f"_l{layer}" + ("_reverse" if d else ""), d == 1) for d in range(dirs)]
        for layer in range(model_cfg.num_layers)
    ]


def _direction(stack: nn.Module, suffix: str, reverse: bool) -> tuple:
    """(w_ih, w_hh, b_ih, b_hh, reverse) found by torch.nn's names in any stack."""
    params = {name.rsplit(".", 1)[-1]: p for name, p in stack.named_parameters()}
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    missing = [n + suffix for n in names if n + suffix not in params]
    if missing:
        raise RnnlabError(f"the model has no parameter '{missing[0]}' (not a torch.nn layout)")
    return (*(params[n + suffix] for n in names), reverse)


def step(p: Probe, gx: torch.Tensor, h: torch.Tensor, c, d: Direction):
    """One time step from gx = W x_t + b_ih (B, G*H) and h_prev (B, H): (h, c, gates)."""
    state, gates = p.cell.equations(gx, (h, c) if p.memory else (h,), d.w_hh, d.b_hh)
    return state[0], (state[1] if p.memory else None), gates


def unroll(p: Probe, x: torch.Tensor, state: list | None = None, keep: bool = True) -> Trace:
    """Run every layer and direction over x (T, B, D), one step at a time, from `state`
    ([l][d] -> (h, c), as `Trace.last`; None: zeros). `keep=False` keeps only the top
    layer's outputs and the last state (long texts without gradients)."""
    T, B = x.shape[:2]
    H, lstm = p.hidden_size, p.memory
    zeros = x.new_zeros(B, H)
    hs, cs, gates, last = [], [], [], []
    for layer, directions in enumerate(p.layers):
        outs, layer_h, layer_c, layer_g, layer_last = [], [], [], [], []
        for k, d in enumerate(directions):
            h, c = state[layer][k] if state else (zeros, zeros if lstm else None)
            gx = torch.addmm(d.b_ih, x.reshape(T * B, -1), d.w_ih.t()).view(T, B, -1)
            steps_h: list[Any] = [None] * T  # every t is filled below
            steps_c: list[Any] = [None] * T
            steps_g: list[Any] = [None] * T
            for t in range(T - 1, -1, -1) if d.reverse else range(T):
                h, c, g = step(p, gx[t], h, c, d)
                steps_h[t], steps_c[t], steps_g[t] = h, c, g
            outs.append(torch.stack(steps_h))  # (T, B, H)
            layer_last.append((h, c))
            layer_h.append(steps_h if keep else [])
            layer_c.append(steps_c if keep else [])
            names = p.cell.sigmoid_gates if keep else ()
            layer_g.append({n: torch.stack([g[n] for g in steps_g]) for n in names})
        x = torch.cat(outs, 2) if len(outs) > 1 else outs[0]  # (T, B, H * directions)
        hs.append(layer_h)
        cs.append(layer_c)
        gates.append(layer_g)
        last.append(layer_last)
    return Trace(hs, cs if lstm else None, gates, x, last)


def logits(p: Probe, trace: Trace) -> torch.Tensor:
    """Language model: (T, B, V) from every step. Classifier: (B, C) from each direction's
    final state (forward: the last step; reverse: the first), as the model reads them."""
    if p.kind == "lm":
        return torch.addmm(p.head_b, trace.outputs.flatten(0, 1), p.head_w.t()).view(
            *trace.outputs.shape[:2], -1
        )
    top = trace.h[-1]
    final = torch.cat(
        [steps[0] if d.reverse else steps[-1] for steps, d in zip(top, p.layers[-1])], 1
    )
    return torch.addmm(p.head_b, final, p.head_w.t())  # (B, C)


def curve_name(state: str, layer: int, reverse: bool) -> str:
    """'h1', 'c2', 'h1_reverse': the state, the layer counted from 1, the direction."""
    return f"{state}{layer + 1}" + ("_reverse" if reverse else "")


def describe_curve(name: str) -> str:
    """'h1' -> 'hidden state h, layer 1'; 'c2_reverse' -> 'memory cell c, layer 2, reverse'."""
    state = "hidden state h" if name[0] == "h" else "memory cell c"
    layer, _, reverse = name[1:].partition("_")
    return f"{state}, layer {layer}" + (", reverse" if reverse else "")


def grad_flow(p: Probe, tokens: torch.Tensor, targets: torch.Tensor) -> dict[str, list[float]]:
    """||dL/dh_t|| (and ||dL/dc_t|| for the LSTM) against the distance from the loss, per
    layer and direction: {name: [mean over the batch of the norm at distance 0, 1, ...]}.

    tokens (B, T) ids; targets: language models (B, T) next tokens, classifiers (B,)
    labels. L sums the examples' cross-entropies, so each example's gradient is its own.
    A forward direction's loss is at the last step (distance T - 1 - t); a reverse one's
    is where it ends, the first step (distance t): for a classifier the same loss, for a
    language model the prediction made at step 0."""
    with torch.enable_grad():
        x = p.inputs(tokens).requires_grad_()  # (T, B, D): gives autograd a graph to follow
        trace = unroll(p, x)
        out = logits(p, trace)
        if p.kind == "lm":
            losses = {
                False: F.cross_entropy(out[-1], targets[:, -1], reduction="sum"),
                True: F.cross_entropy(out[0], targets[:, 0], reduction="sum"),
            }
        else:
            loss = F.cross_entropy(out, targets, reduction="sum")
            losses = {False: loss, True: loss}
        curves = {}
        for reverse in sorted({d.reverse for d in p.layers[0]}):
            named = _states(p, trace, reverse)
            flat = [h for _, steps in named for h in steps]
            grads = torch.autograd.grad(losses[reverse], flat, retain_graph=True, allow_unused=True)
            T = len(named[0][1])
            for n, (name, steps) in enumerate(named):
                per_step = [
                    g if g is not None else torch.zeros_like(s)
                    for g, s in zip(grads[n * T : (n + 1) * T], steps)
                ]
                norms = torch.stack(per_step).norm(dim=2).mean(1)  # (T,) mean over the batch
                curves[name] = (norms if reverse else norms.flip(0)).tolist()  # by distance
    return curves


def _states(p: Probe, trace: Trace, reverse: bool) -> list[tuple[str, list[torch.Tensor]]]:
    """[(curve name, its T step tensors)] of the directions running `reverse`."""
    named = []
    for layer, directions in enumerate(p.layers):
        for k, d in enumerate(directions):
            if d.reverse == reverse:
                named.append((curve_name("h", layer, reverse), trace.h[layer][k]))
                if trace.c is not None:
                    named.append((curve_name("c", layer, reverse), trace.c[layer][k]))
    return named


def probe_supported(model: nn.Module, model_cfg) -> None:
    """RnnlabError now, before a run folder exists, if the gradient flow of this model
    cannot be measured (a gated cell whose equations `probe` cannot run)."""
    if not CELLS.get(model_cfg.cell).sequence:
        probe(model, model_cfg)


def measure_grad_flow(model: nn.Module, model_cfg, tokens, targets) -> dict[str, list[float]]:
    """`grad_flow` of any rnnlab model: the gated cells through `probe`, sequence layers
    (mingru, minlstm) through their step form (`sequence_probe.py`)."""
    from .cells import CELLS

    if CELLS.get(model_cfg.cell).sequence:
        from .sequence_probe import sequence_grad_flow

        return sequence_grad_flow(model, tokens, targets)
    return grad_flow(probe(model, model_cfg), tokens, targets)
