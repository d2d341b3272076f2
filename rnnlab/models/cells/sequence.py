"""The sequence-layer interface: one layer, one direction, linear in its state, with a
parallel form for training and a step form for generation.

A `SequenceLayer` is a torch module built from the `model` config section:

    layer = Layer(input_size D, hidden_size H, cfg)
    y, state = layer(x (T, B, D), state)      # forward: the parallel form over a chunk
    y_t, state = layer.step(x_t (B, D), state)  # the step form: O(1) per token
    state = layer.initial_state(B, device, dtype)

`state` is a tuple of tensors, each with the batch as its first dimension, (B, ...):
`(h,)` with h (B, H) for minGRU and minLSTM; a layer with a larger state (a complex
diagonal state, an SSM state (B, H, N), a convolution's last inputs) says so in
`initial_state`. `None` as the state of `forward` means `initial_state`.

A subclass writes three methods:

- `parallel(x (T, B, D), state) -> (y (T, B, H), state)`: every step of the chunk at
  once (a parallel scan, `rnnlab/models/scan.py`), the form training uses;
- `step(x_t (B, D), state) -> (y_t (B, H), state)`: the same equations for one step;
- `init_weights()`: draws its parameters (called once by the constructor's caller, the
  stack, after the layer is built; `model.init` schemes written for gate blocks do not
  apply to these layers).

and, where its state is not `(h,)` of zeros, `initial_state`. `forward` dispatches: a
chunk of one step (T = 1, as generation feeds tokens) goes through `step`, longer ones
through `parallel`. The two forms must agree to rounding (tests/test_mingru.py checks
it for minGRU and minLSTM); the stack (`models/sequence_stack.py`) adds the input
projection, residual connections, normalisation, dropout and the reverse direction.
"""

from __future__ import annotations

import torch
from torch import nn

LayerState = tuple[torch.Tensor, ...]


class SequenceLayer(nn.Module):
    """One direction of one sequence layer: `forward(x (T, B, D), state) -> (y (T, B, H),
    state)` in parallel over time, `step(x_t (B, D), state)` one step at a time."""

    # True: with `scan_chunk` set to one chunk longer than any input, a trace of the
    # parallel form holds for every length (no Python loop whose count depends on T), and
    # the state is (h,) with h (B, H): `rnnlab export --format torchscript` accepts it
    traceable = False

    def __init__(self, input_size: int, hidden_size: int, cfg):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cfg = cfg
        self.scan_chunk = getattr(cfg, "scan_chunk", None)  # None: the scan's own choice

    def prepare_trace(self, chunk: int) -> None:
        """Make the parallel form one graph with no loop over time (export traces it once,
        for every length): `chunk`, longer than any input, is the scan's one chunk."""
        self.scan_chunk = chunk

    def initial_state(self, batch: int, device=None, dtype=None) -> LayerState:
        """The state before the first step: (h,) of zeros (B, H) unless overridden."""
        return (torch.zeros(batch, self.hidden_size, device=device, dtype=dtype),)

    def forward(self, x: torch.Tensor, state: LayerState | None = None):
        """x (T, B, D) -> y (T, B, H), the state after the last step."""
        if state is None:
            state = self.initial_state(x.shape[1], x.device, x.dtype)
        if x.shape[0] == 1:  # one step (generation): the step form, O(1) per token
            y_t, state = self.step(x[0], state)  # (B, H)
            return y_t.unsqueeze(0), state  # (1, B, H)
        return self.parallel(x, state)

    def parallel(self, x: torch.Tensor, state: LayerState):
        """The parallel form over a chunk: x (T, B, D) -> y (T, B, H), state."""
        raise NotImplementedError

    def step(self, x_t: torch.Tensor, state: LayerState):
        """The step form: x_t (B, D) -> y_t (B, H), state."""
        raise NotImplementedError

    def init_weights(self) -> None:
        """Draw the layer's parameters (its paper's initialisation)."""
        raise NotImplementedError
