"""What makes a recurrent language model generalise, around any recurrent stack:

    TokenDropout      blanks whole input tokens (`model.token_dropout`, Xie et al. 2017)
    SequenceDropout   dropout on (T, B, D) sequences: a fresh mask per element, or with
                      `locked` one mask per sequence for all time steps (variational
                      dropout, Gal & Ghahramani 2016; AWD-LSTM's LockedDropout)
    run_recurrent     the stack's forward with DropConnect on its hidden-to-hidden weights
                      (`model.weight_drop`, Wan et al. 2013; AWD-LSTM's WeightDrop)
    make_head         the full softmax (a Linear, tied to the embedding or not) or the
                      adaptive one (Grave et al. 2017, nn.AdaptiveLogSoftmaxWithLoss)
    activation_penalty  AWD-LSTM's activation regularisation (AR) and temporal AR (TAR),
                      added to the training objective (Merity, Keskar and Socher 2017)

Weight drop swaps dropped copies of the `weight_hh_*` parameters into the stack for one
call with `torch.func.functional_call`: the registered parameters never change, so
builtin layers keep their parameters and flattened cuDNN/oneDNN weights (AWD-LSTM's
WeightDrop deletes the parameter and assigns a plain tensor, which is what breaks
`flatten_parameters` and state_dicts), scratch cells take the dropped matrix like any
other, and eval mode uses the weights as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from rnnlab.config import ModelConfig
from rnnlab.errors import RnnlabError
from rnnlab.models.dropout import dropout, keep_mask


class SequenceDropout(nn.Module):
    """Dropout of probability `p` on (T, B, D) inputs; `locked`: one (B, D) mask for all T."""

    def __init__(self, p: float, locked: bool):
        super().__init__()
        self.p, self.locked = p, locked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.p:
            return x
        if not self.locked:
            return dropout(x, self.p)
        keep = keep_mask((1, *x.shape[1:]), self.p, x)  # (1, B, D), scaled by 1/(1-p)
        return x * keep  # the same units dropped at every step


class TokenDropout(nn.Module):
    """Blank noising (Xie et al. 2017; word dropout, Bowman et al. 2016): in training, each
    input token's vector is zeroed with probability `p`, as if the token were unreadable, so
    the model has to predict from the context around it. Kept tokens are not rescaled: they
    are the very vectors evaluation sees."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.p:
            return x
        keep = torch.rand(*x.shape[:2], 1, device=x.device) >= self.p  # (T, B, 1)
        return x * keep  # (T, B, D): whole token vectors blanked


def run_recurrent(stack: nn.Module, x: torch.Tensor, state, weight_drop: float):
    """`stack(x, state)`; in training with `weight_drop`, each `weight_hh_*` matrix is
    replaced for this call by a DropConnect copy (one mask per batch, scaled by 1/(1-p))."""
    if not weight_drop or not stack.training:
        return stack(x, state)
    dropped = {
        name: dropout(param, weight_drop)  # (G*H, H)
        for name, param in stack.named_parameters()
        if name.rsplit(".", 1)[-1].startswith("weight_hh")
    }
    # torch.nn.RNN/GRU/LSTM read their weights from `_flat_weights`, which the swap in
    # updates and the swap back does not: put the registered parameters back ourselves
    layers = [m for m in stack.modules() if isinstance(m, nn.RNNBase)]
    flat = [list(m._flat_weights) for m in layers]
    try:
        return functional_call(stack, dropped, (x, state))
    finally:
        for layer, weights in zip(layers, flat):
            layer._flat_weights = weights


def activation_penalty(outputs: torch.Tensor, raw: torch.Tensor, ar: float, tar: float):
    """AR + TAR over one batch:  ar * mean(m * h_t)^2  keeps the output layer's input (after
    output dropout m) small, and  tar * mean(h_t - h_{t-1})^2  keeps the stack's own outputs
    from jumping between steps; both means over every unit, step and sequence."""
    penalty = ar * outputs.float().pow(2).mean()  # outputs (T, B, H)
    if raw.shape[0] > 1:
        penalty = penalty + tar * (raw[1:] - raw[:-1]).float().pow(2).mean()  # (T-1, B, H)
    return penalty


def make_head(
    hidden: int, vocab_size: int, model_cfg: ModelConfig, embedding: nn.Module
) -> nn.Module:
    """The output layer: a Linear giving logits (its weight the embedding's with
    `model.tie_weights`), or an `AdaptiveHead` (`model.softmax: adaptive`)."""
    if model_cfg.softmax == "adaptive":
        return AdaptiveHead(hidden, vocab_size, list(model_cfg.adaptive_cutoffs))
    head = nn.Linear(hidden, vocab_size)
    if model_cfg.tie_weights:
        assert isinstance(embedding, nn.Embedding)  # config/techniques.py: a learned embedding
        head.weight = embedding.weight  # (V, E): one tensor, two uses
    return head


class AdaptiveHead(nn.AdaptiveLogSoftmaxWithLoss):
    """The adaptive softmax (Grave et al. 2017): frequent tokens in a small head, rare ones
    in clusters of lower dimension. Called on (T, B, H) it gives log-probabilities
    (T, B, V), which every consumer of logits (softmax, argmax, cross-entropy) reads alike."""

    def __init__(self, hidden: int, vocab_size: int, cutoffs: list[int]):
        if cutoffs[-1] >= vocab_size:
            raise RnnlabError(
                f"'model.adaptive_cutoffs' must stay below the vocabulary size "
                f"({vocab_size}), got {cutoffs}"
            )
        if hidden // 4 ** len(cutoffs) == 0:  # cluster i projects to hidden / 4^(i+1) units
            raise RnnlabError(
                f"'model.adaptive_cutoffs' {cutoffs}: {len(cutoffs)} tail clusters need at "
                f"least {4 ** len(cutoffs)} hidden units (each divides by 4), got {hidden}"
            )
        super().__init__(hidden, vocab_size, cutoffs, div_value=4.0)

    # a logits layer for its callers, not the (input, target) loss of the base class
    def forward(self, outputs: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        T, B, H = outputs.shape
        return self.log_prob(outputs.reshape(T * B, H)).view(T, B, -1)  # (T, B, V)


def head_loss(head: nn.Module, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy of the head on outputs (T, B, H) against targets (T, B); the
    adaptive softmax computes only the clusters the targets fall in (the saving)."""
    y = targets.reshape(-1)  # (T*B,)
    if isinstance(head, AdaptiveHead):
        flat = outputs.reshape(-1, outputs.shape[-1])  # (T*B, H)
        return super(AdaptiveHead, head).forward(flat, y).loss
    logits = head(outputs)  # (T, B, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y)
