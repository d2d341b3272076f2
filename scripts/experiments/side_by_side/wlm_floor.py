"""How fast can any float32 program train pytorch/examples' default word model on this CPU?

    python scripts/experiments/side_by_side/wlm_floor.py [--rounds 5] [--repeats 10]

The model of `configs/lstm_ptb_wlm.yaml` and of pytorch/examples' `word_language_model`
defaults: embedding 200, a 2 x 200 LSTM, a 200 -> 10,000 decoder, batches of 35 x 20. Any
exact float32 step of it must run the LSTM forward and backward and the decoder's three
products (the logits, and the gradients of its weight and of its input); an exact softmax
must also take one exponential of every logit. This times those pieces alone, with torch's
own kernels (oneDNN's LSTM, MKL's sgemm: the fastest this CPU has), then a plain step
written the usual way (embedding, dropout, LSTM, dropout, linear, log-softmax, NLL,
backward, clipping, SGD), and prints the largest speed-up over the plain step that a
program doing nothing but those pieces could have. The pieces are timed in turn, round after
round, and each one's median over the rounds is reported, so that a shared host's drift
falls on all of them alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

STEPS, BATCH, EMBED, HIDDEN, VOCAB = 35, 20, 200, 200, 10_000


def ms_per_call(fn, repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats * 1000


class WordModel(nn.Module):
    """The usual word LM: embedding, dropout, LSTM, dropout, decoder, log-softmax."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, 2, dropout=0.2)
        self.decoder = nn.Linear(HIDDEN, VOCAB)
        self.drop = nn.Dropout(0.2)

    def forward(self, tokens, state):
        y, state = self.rnn(self.drop(self.embed(tokens)), state)  # (T, B, H)
        logits = self.decoder(self.drop(y)).view(-1, VOCAB)  # (T*B, V)
        return F.log_softmax(logits, dim=1), state


def pieces() -> dict:
    """The pieces to time, by name: each a function that runs one of them once."""
    tokens = STEPS * BATCH
    lstm = nn.LSTM(EMBED, HIDDEN, 2)
    x = torch.randn(STEPS, BATCH, EMBED, requires_grad=True)  # (T, B, E)

    def lstm_forward_backward():
        y, _ = lstm(x)  # (T, B, H)
        y.sum().backward()

    weight = torch.randn(VOCAB, HIDDEN) * 0.1  # (V, H)
    h, grad = torch.randn(tokens, HIDDEN), torch.randn(tokens, VOCAB)  # (N, H), (N, V)

    def decoder_products():
        h @ weight.t()  # logits (N, V)
        grad.t() @ h  # d weight (V, H)
        grad @ weight  # d h (N, H)

    logits, targets = torch.randn(tokens, VOCAB), torch.randint(0, VOCAB, (tokens,))

    def cross_entropy():
        F.cross_entropy(logits.clone().requires_grad_(), targets).backward()

    model, data = WordModel(), torch.randint(0, VOCAB, (STEPS + 1, BATCH))
    state = [(torch.zeros(2, BATCH, HIDDEN), torch.zeros(2, BATCH, HIDDEN))]

    def plain_step():
        model.zero_grad()
        out, new = model(data[:-1], tuple(s.detach() for s in state[0]))
        F.nll_loss(out, data[1:].reshape(-1)).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-20.0)
        state[0] = new

    return {
        "lstm": lstm_forward_backward,
        "decoder": decoder_products,
        "exp": lambda: torch.exp(logits),
        "cross_entropy": cross_entropy,
        "step": plain_step,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=10, help="calls per piece and round")
    args = p.parse_args()
    torch.manual_seed(0)
    fns = pieces()
    times = {name: [] for name in fns}
    for _ in range(args.rounds):
        for name, fn in fns.items():
            times[name].append(ms_per_call(fn, args.repeats))
    t = {name: statistics.median(ms) for name, ms in times.items()}
    tokens = STEPS * BATCH
    gates = 4 * HIDDEN  # per layer: input and hidden state (layer 1: EMBED + HIDDEN, 2: 2 HIDDEN)
    lstm_flop = 3 * 2 * tokens * gates * ((EMBED + HIDDEN) + 2 * HIDDEN)  # fwd + 2x bwd
    decoder_flop = 3 * 2 * tokens * HIDDEN * VOCAB
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"LSTM forward + backward (oneDNN): {t['lstm']:.1f} ms ({lstm_flop / t['lstm'] / 1e6:.0f} GFLOP/s)"
    )
    print(
        f"decoder's three products (sgemm): {t['decoder']:.1f} ms ({decoder_flop / t['decoder'] / 1e6:.0f} GFLOP/s)"
    )
    print(
        f"one exp over the logits: {t['exp']:.1f} ms; torch cross-entropy forward + backward: {t['cross_entropy']:.1f} ms"
    )
    print(f"plain step: {t['step']:.1f} ms ({tokens / t['step'] * 1000:,.0f} tokens/s)")
    floor = t["lstm"] + t["decoder"]
    print(
        f"largest speed-up over the plain step: {t['step'] / floor:.2f}x if nothing but the LSTM and the "
        f"products took time, {t['step'] / (floor + t['exp']):.2f}x with the one exp an exact softmax needs"
    )


if __name__ == "__main__":
    main()
