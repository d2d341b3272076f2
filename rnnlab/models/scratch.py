"""`model.impl: scratch`: rnnlab's own recurrent stack, built from the cells of `cells/`.

Deep (`model.num_layers`), bidirectional, dropout between layers, the same state shapes
as torch.nn, and the same parameter names, shapes and gate order (`weight_ih_l0`,
`weight_hh_l1_reverse`, ...), so a scratch model and a builtin one exchange state_dicts.

Per layer and direction the input projections of all steps are one product before the
loop (for one-hot input, a lookup of rows of W_ih). A fused cell's loop and backward are
one autograd node (`Sequence`) running its own backpropagation through time; a step cell's
loop is recorded by autograd, step by step (`cells/base.py`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from rnnlab.config.schema import ModelConfig
from rnnlab.errors import RnnlabError

from .cells import CELLS
from .cells.base import after_and_before
from .compile import use_compile_cache
from .dropout import dropout
from .init import init_recurrent
from .recurrent import RECURRENT, Recurrent


class Kernels:
    """A cell's forward and (fused cells) backward loops, eager or through torch.compile."""

    def __init__(self, cell, compiled: bool):
        self.fused = cell.fused
        self.forward = cell.forward
        self.backward = cell.backward if cell.fused else None
        if compiled:
            use_compile_cache()
            self.forward = torch.compile(cell.forward, dynamic=False)
            if cell.fused:
                self.backward = torch.compile(cell.backward, dynamic=False)

    def run(self, reverse: bool, gx, w_hh, b_hh, h0, c0):
        """(hs (T+1, B, H),) or, with memory, (hs, last c (B, H)) for one direction."""
        if self.fused:  # the cell's own BPTT, as one autograd node
            return Sequence.apply(self, reverse, gx, w_hh, b_hh, h0, c0)
        return self.forward(gx, w_hh, b_hh, h0, c0, reverse)  # autograd records each step


class Sequence(torch.autograd.Function):
    """One direction of one layer over all steps as one autograd node."""

    @staticmethod
    def forward(ctx, kernels, reverse, gx, w_hh, b_hh, h0, c0):
        outputs, saved = kernels.forward(gx, w_hh, b_hh, h0, c0, reverse)
        ctx.kernels, ctx.reverse = kernels, reverse
        ctx.present = [s is not None for s in saved]
        ctx.save_for_backward(w_hh, *(s for s in saved if s is not None))
        return outputs  # (hs (T+1, B, H),) or, for the LSTM, (hs, last c (B, H))

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        w_hh, *kept = ctx.saved_tensors
        kept = iter(kept)
        saved = [next(kept) if present else None for present in ctx.present]
        d_gx, d_w_hh, d_b_hh, d_h0, d_c0 = ctx.kernels.backward(saved, grads, w_hh, ctx.reverse)
        return None, None, d_gx, d_w_hh, d_b_hh, d_h0, d_c0


def suffix(layer: int, direction: int) -> str:
    """torch.nn's parameter name suffix: `_l0`, `_l1_reverse`, ..."""
    return f"_l{layer}" + ("_reverse" if direction else "")


class Weights(nn.Module):
    """The parameters of a stack, named, shaped and ordered exactly as in torch.nn.RNN,
    GRU and LSTM (so PyTorch's default initialisation draws the same numbers)."""

    def __init__(
        self,
        gates: int,
        input_size: int,
        hidden_size: int,
        layers: int,
        dirs: int,
        diagonal: bool = False,
    ):  # diagonal: weight_hh is a vector (G*H,), an elementwise recurrence (IndRNN)
        super().__init__()
        for layer in range(layers):
            size = input_size if layer == 0 else hidden_size * dirs
            for direction in range(dirs):
                s = suffix(layer, direction)
                rows = gates * hidden_size
                self.register_parameter(f"weight_ih{s}", nn.Parameter(torch.empty(rows, size)))
                hh = (rows,) if diagonal else (rows, hidden_size)
                self.register_parameter(f"weight_hh{s}", nn.Parameter(torch.empty(hh)))
                self.register_parameter(f"bias_ih{s}", nn.Parameter(torch.empty(rows)))
                self.register_parameter(f"bias_hh{s}", nn.Parameter(torch.empty(rows)))

    def of(self, layer: int, direction: int) -> tuple[torch.Tensor, ...]:
        s = suffix(layer, direction)
        names = (f"weight_ih{s}", f"weight_hh{s}", f"bias_ih{s}", f"bias_hh{s}")
        return tuple(getattr(self, n) for n in names)


@RECURRENT.register("scratch")
class Scratch(Recurrent):
    accepts_ids = True  # one-hot input may come as token ids: a row lookup, not a product

    def __init__(self, model_cfg, input_size: int):
        super().__init__(model_cfg, input_size)
        self.cell_fn = self.spec.build(model_cfg)
        self.dropout = model_cfg.dropout
        self.layer = Weights(
            self.spec.gates,
            input_size,
            self.hidden_size,
            self.num_layers,
            self.directions,
            self.spec.diagonal,
        )
        init_recurrent(self.layer, model_cfg.init, self.hidden_size, model_cfg.init_range)
        self.eager = Kernels(self.cell_fn, compiled=False)
        self.kernels = self.eager

    def set_compiled(self, on: bool) -> None:
        """Compile the training loops (`model.compile`); evaluation stays eager."""
        self.kernels = Kernels(self.cell_fn, compiled=True) if on else self.eager

    def forward(self, inputs, state=None):
        """inputs (T, B, D) floats or (T, B) token ids -> outputs (T, B, H * dirs), state."""
        T, B = inputs.shape[:2]
        h0, c0 = self.initial_state(state, B, inputs.device)  # (L * dirs, B, H) each
        train = self.training and torch.is_grad_enabled()
        kernels = self.kernels if train else self.eager
        x, last_h, last_c = inputs, [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.directions):
                w_ih, w_hh, b_ih, b_hh = self.layer.of(layer, direction)
                if self.cell_fn.bias_in_gx:  # e.g. rnn, lstm: both biases go in before the loop
                    b_ih, b_hh = b_ih + b_hh, None
                gx = project(x, w_ih, b_ih)  # (T, B, G*H): all steps at once
                k = layer * self.directions + direction
                c_k = None if c0 is None else c0[k]
                result = kernels.run(direction == 1, gx, w_hh, b_hh, h0[k], c_k)
                after, _ = after_and_before(result[0], reverse=direction == 1)  # (T, B, H)
                outputs.append(after)
                last_h.append(after[0] if direction == 1 else after[-1])
                if c0 is not None:
                    last_c.append(result[1])
            x = torch.cat(outputs, 2) if self.directions == 2 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout)
        h_n = torch.stack(last_h)  # (L * dirs, B, H)
        return x, (h_n, torch.stack(last_c)) if c0 is not None else h_n

    def initial_state(self, state, batch: int, device):
        """(h0, c0) of shape (L * dirs, B, H); c0 is None but for cells with memory (the
        LSTM); zeros for None."""
        dtype = self.layer.of(0, 0)[1].dtype  # weight_hh_l0's
        shape = (self.num_layers * self.directions, batch, self.hidden_size)
        if state is None:
            h0 = torch.zeros(shape, dtype=dtype, device=device)
            return h0, (torch.zeros_like(h0) if self.spec.memory else None)
        return state if self.spec.memory else (state, None)


def project(x: torch.Tensor, w_ih: torch.Tensor, b_ih: torch.Tensor) -> torch.Tensor:
    """W_ih x_t + b_ih for every step: (T, B, D) floats in one product, or (T, B) token ids
    as rows of W_ih (the same numbers as a product with one-hot vectors)."""
    if not x.is_floating_point():
        return F.embedding(x, w_ih.t() + b_ih)  # (T, B, G*H)
    T, B, D = x.shape
    return torch.addmm(b_ih, x.reshape(T * B, D), w_ih.t()).view(T, B, -1)


def to_builtin_state_dict(state_dict: dict, model_cfg: ModelConfig) -> dict:
    """A scratch model's state_dict for the same model with `model.impl: builtin`.

    The names, shapes and gate order are torch.nn's already, so the mapping is the
    identity on names; this checks the recurrent weights fit and refuses the residual
    SRN and cells torch.nn has no layer for."""
    if getattr(model_cfg, "residual", False):
        raise RnnlabError("a residual SRN (model.residual: true) has no builtin equivalent")
    if CELLS.get(model_cfg.cell).torch_layer is None:
        raise RnnlabError(f"model.cell: {model_cfg.cell} has no builtin equivalent")
    return _checked_copy(state_dict, model_cfg)


def from_builtin_state_dict(state_dict: dict, model_cfg: ModelConfig) -> dict:
    """A builtin model's state_dict for the same model with `model.impl: scratch`."""
    return _checked_copy(state_dict, model_cfg)


def _checked_copy(state_dict: dict, model_cfg: ModelConfig) -> dict:
    """A shallow copy of `state_dict` once every recurrent weight of `model_cfg` is found
    in it with torch.nn's shape: G * H gate rows."""
    rows, hidden = CELLS.get(model_cfg.cell).gates * model_cfg.hidden_size, model_cfg.hidden_size
    shapes = {
        "weight_ih": None,
        "weight_hh": (rows, hidden),
        "bias_ih": (rows,),
        "bias_hh": (rows,),
    }
    by_name = {key.rsplit(".", 1)[-1]: key for key in state_dict}  # "rnn.layer.bias_ih_l0"
    for layer in range(model_cfg.num_layers):
        for direction in range(2 if model_cfg.bidirectional else 1):
            for name, shape in shapes.items():
                key = by_name.get(name + suffix(layer, direction))
                if key is None:
                    raise RnnlabError(f"the state_dict has no '{name}{suffix(layer, direction)}'")
                found = tuple(state_dict[key].shape)
                if found[0] != rows or (shape is not None and found != shape):
                    raise RnnlabError(
                        f"'{key}' has shape {found}: not a {model_cfg.cell} of {hidden} units"
                    )
    return dict(state_dict)
