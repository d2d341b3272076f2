"""The gradient flow through time of a stack of sequence layers (mingru, minlstm:
`sequence_stack.py`), for `rnnlab inspect` and `train.log_grad_flow`.

The parallel form computes every h_t inside one scan, so no h_t is a tensor autograd can
differentiate to. `sequence_grad_flow` runs a float64 copy of the language model again
in the step form, one step at a time, keeping each layer's h_t, and returns
||dL/dh_t|| against the distance from the loss, as `probe.grad_flow` does for the gated
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
    """{curve name: mean over the batch of ||dL/dh_t|| at distance 0, 1, ...} of a
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
        for name, hs in steps.items():
            reverse = name.endswith("_reverse")
            grads = torch.autograd.grad(losses[reverse], hs, retain_graph=True, allow_unused=True)
            per_step = [g if g is not None else torch.zeros_like(h) for g, h in zip(grads, hs)]
            norms = torch.stack(per_step).norm(dim=2).mean(1)  # (T,) mean over the batch
            curves[name] = (norms if reverse else norms.flip(0)).tolist()  # by distance
    return curves


def _unroll(lm, tokens: torch.Tensor):
    """The stack's blocks in the step form: ({curve: [h_t (B, H)] in time order}, logits)."""
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
            hs: list = [None] * T
            for t in range(T - 1, -1, -1) if d else range(T):
                hs[t], state = layer.step(u[t], state)  # (B, H)
            steps[curve_name("h", block, d == 1)] = hs
            ys.append(torch.stack(hs))  # (T, B, H)
        x = x + (torch.cat(ys, 2) if len(ys) > 1 else ys[0])  # (T, B, W)
    return steps, lm.head(stack.norm_out(x))  # (T, B, V)
