"""The gradient flow through time of a stack of sequence layers (mingru, minlstm:
`sequence_stack.py`), for `rnnlab inspect` and `train.log_grad_flow`.

The parallel form computes every h_t inside one scan, so no h_t is a tensor autograd can
differentiate to. `sequence_grad_flow` runs a float64 copy of the language model again
in the step form, one step at a time, keeping each layer's state s_t after every step,
and returns ||dL/ds_t|| (all of the state's parts together; s_t = (h_t,) for minGRU and
minLSTM) against the distance from the loss, as `probe.grad_flow` does for the gated
cells. For these layers dh_{t}/dh_{t-1} = diag(a_t) (1 - z_t for minGRU, f'_t for
minLSTM): the gradient through time is the product of the a_t alone (plus the paths up
and down the residual stream), never a product of matrices.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.errors import RnnlabError

from .probe import curve_name


def sequence_grad_flow(
    model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor, dtype=torch.float64
) -> dict[str, list[float]]:
    """{curve name: mean over the batch of ||dL/ds_t|| at distance 0, 1, ...} of a
    `LanguageModel` whose stack is a `SequenceStack`; tokens, targets (B, T) ids."""
    from .lm import LanguageModel

    if not isinstance(model, LanguageModel):
        raise RnnlabError("the gradient flow of sequence layers is measured for language models")
    if next(model.parameters()).device.type == "mps":
        dtype = torch.float32  # MPS has no float64
    lm = copy.deepcopy(model).to(dtype).eval()
    lm.requires_grad_(False)
    with torch.enable_grad():
        steps, out = _unroll(lm, tokens)  # {name: [h_t (B, H)]}, logits (T, B, V)
        losses = {
            False: F.cross_entropy(out[-1], targets[:, -1], reduction="sum"),
            True: F.cross_entropy(out[0], targets[:, 0], reduction="sum"),
        }
        curves = {}
        for name, states in steps.items():
            reverse = name.endswith("_reverse")
            flat = [part for state in states for part in state]  # every step's every part
            grads = torch.autograd.grad(losses[reverse], flat, retain_graph=True, allow_unused=True)
            squares = [
                (g if g is not None else torch.zeros_like(part)).flatten(1).square().sum(1)
                for g, part in zip(grads, flat)
            ]  # (B,) each
            k = len(states[0])
            per_step = torch.stack(
                [torch.stack(squares[t * k : (t + 1) * k]).sum(0) for t in range(len(states))]
            )
            norms = per_step.sqrt().mean(1)  # (T,) ||dL/ds_t||, mean over the batch
            curves[name] = (norms if reverse else norms.flip(0)).tolist()  # by distance
    return curves


def _unroll(lm, tokens: torch.Tensor):
    """The stack's blocks in the step form: ({curve: [state after step t] in time order},
    logits (T, B, V))."""
    stack = lm.rnn
    x = tokens.T if lm.ids_in else lm.embed(tokens.T)  # (T, B) ids or (T, B, D)
    x = stack.project(x).requires_grad_()  # (T, B, W): gives autograd a graph to follow
    T, B = x.shape[:2]
    steps = {}
    for block, norm in enumerate(stack.norms):
        u = norm(x)  # (T, B, W)
        ys = []
        for d in range(stack.directions):
            layer = stack.layers[block * stack.directions + d]
            state = layer.initial_state(B, x.device, x.dtype)
            outs: list = [None] * T
            states: list = [None] * T
            for t in range(T - 1, -1, -1) if d else range(T):
                outs[t], state = layer.step(u[t], state)  # (B, H), the state after step t
                states[t] = state
            steps[curve_name("h", block, d == 1)] = states
            ys.append(torch.stack(outs))  # (T, B, H)
        x = x + (torch.cat(ys, 2) if len(ys) > 1 else ys[0])  # (T, B, W)
    return steps, lm.head(stack.norm_out(x))  # (T, B, V)
