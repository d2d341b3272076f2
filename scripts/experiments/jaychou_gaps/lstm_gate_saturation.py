#!/usr/bin/env python
"""How saturated each layer of a trained builtin LSTM stack is (docs/results.md).

    python scripts/experiments/jaychou_gaps/lstm_gate_saturation.py RUN [RUN ...]

For each run folder (a builtin `cell: lstm` language model), reads checkpoints/last.pt,
feeds 32 x 35 random characters of its vocabulary through the stack one layer at a time and prints, per layer: the share of input/forget/output gate values beyond 0.01 or
0.99, the share of candidate values beyond +-0.99 (where sigmoid' and tanh' are under
0.01), and the spread of the layer's output across positions (std over time and batch,
averaged over units: 0 means the layer says the same thing whatever the input).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


def layer_stats(state: dict, layers: int, x: torch.Tensor) -> list[str]:
    """x: (T, B, D) inputs of layer 1; one line per layer."""
    lines = []
    for layer in range(layers):
        w_ih, w_hh = state[f"rnn.layer.weight_ih_l{layer}"], state[f"rnn.layer.weight_hh_l{layer}"]
        bias = state[f"rnn.layer.bias_ih_l{layer}"] + state[f"rnn.layer.bias_hh_l{layer}"]
        steps, batch, hidden = x.shape[0], x.shape[1], w_hh.shape[1]
        h = c = x.new_zeros(batch, hidden)  # (B, H)
        gates_seen, candidates, outputs = [], [], []
        for t in range(steps):
            i, f, g, o = (x[t] @ w_ih.T + h @ w_hh.T + bias).chunk(4, dim=1)  # (B, H) each
            i, f, o, g = i.sigmoid(), f.sigmoid(), o.sigmoid(), g.tanh()
            c = f * c + i * g
            h = o * c.tanh()
            gates_seen.append(torch.stack([i, f, o]))  # (3, B, H)
            candidates.append(g)
            outputs.append(h)
        sig = torch.stack(gates_seen)  # (T, 3, B, H)
        x = torch.stack(outputs)  # (T, B, H): the next layer's input
        sat = ((sig < 0.01) | (sig > 0.99)).float().mean(dim=(0, 2, 3))  # (3,)
        cand_sat = (torch.stack(candidates).abs() > 0.99).float().mean().item()
        spread = x.reshape(-1, hidden).std(dim=0).mean().item()
        lines.append(
            f"  layer {layer + 1}: saturated i {sat[0]:.2f} f {sat[1]:.2f} o {sat[2]:.2f}"
            f" g {cand_sat:.2f}; output spread {spread:.2g}"
        )
    return lines


def main() -> None:
    for run in map(Path, sys.argv[1:]):
        ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
        state, layers = ckpt["model"], ckpt["config"]["model"]["num_layers"]
        vocab = state["rnn.layer.weight_ih_l0"].shape[1]
        torch.manual_seed(0)
        tokens = torch.randint(0, vocab, (35, 32))  # (T, B): random characters of the vocabulary
        x = torch.nn.functional.one_hot(tokens, vocab).float()  # (T, B, V)
        print(f"{run.name} (epoch {ckpt['epoch']})")
        print("\n".join(layer_stats(state, layers, x)))


if __name__ == "__main__":
    main()
