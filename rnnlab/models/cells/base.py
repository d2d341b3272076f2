"""What scratch cells share: the two kinds of cell, and the bookkeeping of steps in time.

Every cell runs one direction of one layer. Its input `gx` (T, B, G*H) is W_ih x_t + b
for every step, computed by the stack before the loop (`scratch.py`); `b` is b_ih, or
b_ih + b_hh when the class sets `bias_in_gx` (then `b_hh` comes as None). `forward(gx,
w_hh, b_hh, h0, c0, reverse)` returns the states `hs` (T+1, B, H) in time order with h0
at the end the direction starts from, as `(hs,)`, or `(hs, last c)` for a cell with
memory (c0 is None for the others).

Every cell also gives `equations`, its equations for one step on the stack's weights,
returning the next state and its sigmoid gates by name: `rnnlab inspect` and the
gradient-flow log (`models/probe.py`) run them step by step, so one set of equations
serves training, inspection and export.

- `StepCell`: a subclass writes `equations` and nothing else; the
  loop here calls it and autograd records every step, so backpropagation through time
  is autograd's. The way to try a new cell (`mgu.py`).
- `FusedCell`: forward and backward written out (`fused.py`), run by the stack as one
  autograd node; `forward` also returns what `backward` needs. The fast path.
"""

from __future__ import annotations

import torch


class Cell:
    """Base of a cell's scratch equations, built from the `model` config section."""

    fused = False  # True: `backward` is written out (FusedCell)
    bias_in_gx = False  # True: both biases go into gx before the loop; b_hh is None
    sigmoid_gates: tuple[str, ...] = ()  # the gates `equations` returns (inspect draws them)

    def __init__(self, cfg):
        self.cfg = cfg

    def equations(self, gx_t, state: tuple, w_hh, b_hh) -> tuple[tuple, dict]:
        """One step: gx_t (B, G*H) = W_ih x_t + b; state (h,) or (h, c), (B, H) each ->
        (the next state, {gate: (B, H)} for each of `sigmoid_gates`). b_hh is None when
        `bias_in_gx` and the stack runs the cell; `inspect` always passes it."""
        raise NotImplementedError

    def constrain(self, weights: tuple, steps: int) -> None:
        """After each optimizer step: keep the weights of one direction (`weights`: w_ih,
        w_hh, b_ih, b_hh) where the cell needs them (IndRNN's bound on |u|); `steps`: the
        sequence length trained on. Nothing by default."""


class StepCell(Cell):
    """A cell given by its equations for one step; autograd does the backward pass."""

    def forward(self, gx, w_hh, b_hh, h0, c0, reverse):
        state = (h0,) if c0 is None else (h0, c0)
        hs = []
        for t in times(gx.shape[0], reverse):
            state, _ = self.equations(gx[t], state, w_hh, b_hh)
            hs.append(state[0])
        hs = with_start(h0, hs, reverse)  # (T+1, B, H)
        return (hs,) if c0 is None else (hs, state[1])


class FusedCell(Cell):
    """A cell with its backward pass written out: `forward` returns (outputs, saved) and
    `backward(saved, grads, w_hh, reverse)` the gradients of gx, w_hh, b_hh, h0 and c0."""

    fused = True

    def forward(self, gx, w_hh, b_hh, h0, c0, reverse):
        raise NotImplementedError

    def backward(self, saved, grads, w_hh, reverse):
        raise NotImplementedError


def times(T: int, reverse: bool) -> range:
    """The order a direction visits the steps in."""
    return range(T - 1, -1, -1) if reverse else range(T)


def in_time_order(per_step: list[torch.Tensor], reverse: bool) -> torch.Tensor:
    """Stack tensors collected while visiting the steps backward (`reverse`) or forward
    into time order: (T, ...)."""
    return torch.stack(per_step[::-1] if reverse else per_step)


def with_start(start: torch.Tensor, per_step: list[torch.Tensor], reverse: bool):
    """(T+1, ...) in time order, `start` (h0 or c0) at the end the direction starts from."""
    return torch.stack(per_step[::-1] + [start] if reverse else [start] + per_step)


def after_and_before(states: torch.Tensor, reverse: bool):
    """Views of a (T+1, ...) sequence: the state after each step, and the one before it."""
    return (states[:-1], states[1:]) if reverse else (states[1:], states[:-1])


def weight_gradients(d_pre: torch.Tensor, h_prev: torch.Tensor):
    """dL/dw_hh and dL/db_hh from every step's d(pre-activation) (T, B, G*H): one product."""
    flat = d_pre.reshape(-1, d_pre.shape[-1])  # (T*B, G*H)
    return flat.t() @ h_prev.reshape(flat.shape[0], -1), flat.sum(0)
