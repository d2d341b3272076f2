"""The d2l training loop (section 8.5/9.1 style), written out plainly, to compare speed.

    python scripts/experiments/d2l_speed/d2l_loop_baseline.py [--epochs 50]

Same model (nn.GRU, 256 hidden, one-hot input), same data (first 10,000 characters of
The Time Machine), same sampler (sequential, batch 32, 35 steps), SGD lr 1, clip 1; but
the book's habits: Python-list minibatches, a float() of the loss every batch and a
gradient norm summed parameter by parameter in Python. Prints tokens/s per epoch as the
book's Timer measures them, and the final training perplexity.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import time

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.data import fetch
from rnnlab.data.text import TIME_MACHINE


def corpus_and_vocab(max_tokens: int):
    lines = open(fetch(TIME_MACHINE), encoding="utf-8").readlines()
    lines = [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in lines]
    tokens = [list(line) for line in lines]
    counts: dict[str, int] = {}
    for line in tokens:
        for t in line:
            counts[t] = counts.get(t, 0) + 1
    idx_to_token = ["<unk>"] + [t for t, _ in sorted(counts.items(), key=lambda kv: -kv[1])]
    token_to_idx = {t: i for i, t in enumerate(idx_to_token)}
    corpus = [token_to_idx[t] for line in tokens for t in line][:max_tokens]
    return corpus, len(idx_to_token)


def sequential_batches(corpus, batch_size, num_steps):
    offset = random.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    xs = torch.tensor(corpus[offset : offset + num_tokens]).reshape(batch_size, -1)
    ys = torch.tensor(corpus[offset + 1 : offset + 1 + num_tokens]).reshape(batch_size, -1)
    for i in range(0, (xs.shape[1] // num_steps) * num_steps, num_steps):
        yield xs[:, i : i + num_steps], ys[:, i : i + num_steps]


class RNNModel(nn.Module):
    def __init__(self, vocab_size, hidden):
        super().__init__()
        self.rnn, self.vocab_size = nn.GRU(vocab_size, hidden), vocab_size
        self.linear = nn.Linear(hidden, vocab_size)

    def forward(self, inputs, state):
        x = F.one_hot(inputs.T.long(), self.vocab_size).float()
        y, state = self.rnn(x, state)
        return self.linear(y.reshape(-1, y.shape[-1])), state


def clip(model, theta):
    params = [p for p in model.parameters() if p.requires_grad]
    norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
    if norm > theta:
        for p in params:
            p.grad[:] *= theta / norm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    corpus, vocab_size = corpus_and_vocab(10_000)
    model = RNNModel(vocab_size, 256)
    updater = torch.optim.SGD(model.parameters(), lr=1.0)
    speeds = []
    for _epoch in range(args.epochs):
        state, start, loss_sum, n = None, time.perf_counter(), 0.0, 0
        for X, Y in sequential_batches(corpus, 32, 35):
            if state is not None:
                state = state.detach()
            y_hat, state = model(X, state)
            loss = F.cross_entropy(y_hat, Y.T.reshape(-1)).mean()
            updater.zero_grad()
            loss.backward()
            clip(model, 1)
            updater.step()
            loss_sum, n = loss_sum + float(loss.detach()) * Y.numel(), n + Y.numel()
        speeds.append(n / (time.perf_counter() - start))
    speeds.sort()
    print(
        f"d2l loop: {speeds[len(speeds) // 2]:,.0f} tokens/s (median of {args.epochs} epochs), "
        f"train perplexity {math.exp(loss_sum / n):.2f}"
    )


if __name__ == "__main__":
    main()
