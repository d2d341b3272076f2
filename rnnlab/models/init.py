"""`model.init`: how a recurrent stack's weights are drawn, for builtin and scratch alike
(both name their parameters as torch.nn does: weight_ih_l0, weight_hh_l0, bias_ih_l0, ...).

    default     torch.nn's: every weight and bias uniform in +-1/sqrt(H)
    normal      d2l's scratch models: weights N(0, 0.01^2), biases zero
    xavier      Glorot uniform per gate block of every weight matrix, biases zero
    orthogonal  recurrent weights orthogonal per gate block, input weights as xavier,
                biases zero
    uniform     every weight and bias uniform in +-init_range (Zaremba et al. 2014); a
                language model draws all its parameters so (`init_uniform`)
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def init_recurrent(
    layer: nn.Module, scheme: str, hidden_size: int, init_range: float = 0.1
) -> None:
    """Draw the parameters of `layer` (torch.nn names) in place, in registration order."""
    for name, param in layer.named_parameters():
        if scheme == "uniform":
            param.uniform_(-init_range, init_range)
        elif scheme == "default":
            bound = hidden_size**-0.5
            param.uniform_(-bound, bound)  # the same draws as torch.nn's reset_parameters
        elif name.startswith("bias"):
            param.zero_()
        elif scheme == "normal":
            param.normal_(0.0, 0.01)
        else:
            for block in param.split(hidden_size):  # one gate's rows (H, D) or (H, H)
                if block.dim() == 1:  # a diagonal recurrence u (IndRNN): Li et al.'s U(0, 1)
                    block.uniform_(0.0, 1.0)
                elif scheme == "orthogonal" and name.startswith("weight_hh"):
                    nn.init.orthogonal_(block)
                else:
                    nn.init.xavier_uniform_(block)


@torch.no_grad()
def init_uniform(module: nn.Module, init_range: float) -> None:
    """Every parameter of `module` uniform in +-init_range (Zaremba et al. 2014)."""
    for param in module.parameters():
        param.uniform_(-init_range, init_range)
