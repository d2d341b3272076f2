"""Dynamic evaluation of a language model (Krause et al. 2018, "Dynamic Evaluation of
Neural Sequence Models"): read the held-out text once, as one stream, in segments of a few
tokens; score each segment with the weights as they are, then take one gradient step on
that segment's loss, pulled back towards the trained weights theta_0:

    loss_i  = CE(model(s_i; theta_{i-1}))                      scored before the step
    sgd:      theta_i = theta_{i-1} - lr g_i + decay (theta_0 - theta_{i-1})
    rms:      theta_i = theta_{i-1} - lr g_i / (rms + eps)
                        + decay min(rms / mean(rms), 1 / decay) (theta_0 - theta_{i-1})

where g_i is the gradient of segment i's mean loss and `rms` the root mean square of each
weight's gradient over training batches (Krause's "RMS with a global prior": weights that
training moved little move little here, and come back faster when they do).

Every token is predicted before the model has learnt from it (the step comes after its
score), so the figure is a fair held-out perplexity of a model that keeps learning as it
reads, reported beside the static one as the literature does ("+ dynamic eval"). The
model's weights and mode are restored on the way out.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.models import detach_state

EPS = 1e-5  # rms: added to the gradient's root mean square (Krause's epsilon scale)
STAT_BATCHES = 32  # rms: training batches the statistics are taken over
STAT_ROWS = 32  # rms: sequences of data.num_steps tokens in each of those batches
# Defaults by token type, tuned on held-out text (docs/language_models.md, "Dynamic
# evaluation"): PTB's validation split for words, the Time Machine's held-out 10 % for
# characters (the only held-out text that corpus has).
DEFAULTS = {
    "word": {"lr": 1e-4, "decay": 2e-4, "segment": 20},
    "char": {"lr": 3e-5, "decay": 2e-3, "segment": 5},
}


@dataclass(frozen=True)
class DynamicEval:
    """The settings of one dynamic evaluation."""

    lr: float  # step on each segment's mean loss (rms: on the normalised gradient)
    decay: float = 0.0  # pull towards the trained weights per step (0: none)
    segment: int = 20  # tokens scored, then learnt from, per step
    rule: str = "rms"  # "rms" or "sgd"


def dynamic_mean_loss(
    model: nn.Module, ids: torch.Tensor, how: DynamicEval, train_windows=None
) -> float:
    """The mean next-token loss over `ids` (M,) (every token after the first) while the
    model adapts to the text it has already scored. `train_windows` (tokens, targets),
    each (N, T), feed the gradient statistics of the rms rule."""
    n = len(ids) - 1  # predictions
    total = torch.zeros((), device=ids.device)
    state = None
    with adapting(model) as (params, trained):
        step = make_step(how, params, trained, model, train_windows)
        for start in range(0, n, how.segment):
            x = ids[start : min(start + how.segment, n)].view(1, -1)  # (1, T)
            y = ids[start + 1 : start + 1 + x.shape[1]]  # (T,)
            logits, state = model(x, state)  # (T, 1, V)
            loss = F.cross_entropy(logits.reshape(len(y), -1), y, reduction="sum")
            total += loss.detach()
            step(torch.autograd.grad(loss / len(y), params))
            state = detach_state(state)
    return total.item() / n


def make_step(how: DynamicEval, params, trained, model, train_windows):
    """The update of `how.rule`, as a function of the gradients."""
    if how.rule == "sgd":
        return lambda grads: sgd_step(params, grads, trained, how.lr, how.decay)
    rms = gradient_rms(model, params, train_windows)
    scale = [1 / (r + EPS) for r in rms]  # per weight
    mean = torch.cat([r.flatten() for r in rms]).mean()
    pull = [(how.decay * r / mean).clamp(max=1.0) for r in rms]  # per weight, <= 1
    return lambda grads: rms_step(params, grads, trained, how.lr, scale, pull)


@torch.no_grad()
def sgd_step(params, grads, trained, lr: float, decay: float) -> None:
    """theta <- theta - lr * grad + decay * (theta_0 - theta), for every parameter."""
    torch._foreach_add_(params, grads, alpha=-lr)
    if decay:
        torch._foreach_lerp_(params, trained, decay)  # p + decay * (p0 - p), in place


@torch.no_grad()
def rms_step(params, grads, trained, lr: float, scale, pull) -> None:
    """theta <- theta - lr * grad * scale + pull * (theta_0 - theta), per weight."""
    torch._foreach_add_(params, torch._foreach_mul(grads, scale), alpha=-lr)
    torch._foreach_lerp_(params, trained, pull)


def gradient_rms(model: nn.Module, params, train_windows) -> list[torch.Tensor]:
    """Each weight's root mean square gradient of the mean loss over training batches."""
    tokens, targets = train_windows  # (N, T) each
    squares = [torch.zeros_like(p) for p in params]
    batches = torch.arange(len(tokens)).chunk(STAT_BATCHES)
    for rows in batches:
        logits, _ = model(tokens[rows])  # (T, B, V)
        y = targets[rows].T.reshape(-1)  # (T * B,) time-major as the logits
        grads = torch.autograd.grad(F.cross_entropy(logits.flatten(0, 1), y), params)
        torch._foreach_add_(squares, torch._foreach_mul(grads, grads))
    return [(s / len(batches)).sqrt() for s in squares]


@contextmanager
def adapting(model: nn.Module):
    """The model in eval mode (no dropout) with gradients on: yields (its parameters,
    copies of their trained values); puts the trained values and the mode back after.
    cuDNN cannot run an RNN's backward pass in eval mode, so it is off inside; so is
    oneDNN, whose RNN backward at batch 1 takes 1.7x the time of torch's own (measured:
    8.7 s against 5.1 s for 400 segments of a 2 x 512 LSTM)."""
    was_training = model.training
    params: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad]
    trained = [p.detach().clone() for p in params]
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*TF32 acceleration on top of oneDNN")
            with (
                torch.enable_grad(),
                torch.backends.cudnn.flags(enabled=False),
                torch.backends.mkldnn.flags(enabled=False),
            ):
                yield params, trained
    finally:
        with torch.no_grad():
            torch._foreach_copy_(params, trained)
        model.train(was_training)
