"""Training-mode dropout on the CPU: torch's `F.dropout` against rnnlab's
(`rnnlab.models.dropout`), forward and backward, on the tensors a `lstm_shakespeare` step
drops (docs/performance.md, "Dropout on the CPU"):

    python scripts/experiments/dropout_speed/bench_dropout.py [--repeats 50]

Prints a Markdown table: milliseconds per call (median of the repeats), and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from rnnlab.models.dropout import dropout

SHAPES = {
    "output dropout, 16 x 32 x 512 (T x B x H)": ((16, 32, 512), 0.15),
    "output dropout, 64 x 32 x 512": ((64, 32, 512), 0.15),
    "weight drop, 2048 x 512 (weight_hh of a 512-unit LSTM)": ((2048, 512), 0.1),
    "embedding dropout, 16 x 32 x 64": ((16, 32, 64), 0.05),
}


def median_ms(fn, x: torch.Tensor, p: float, repeats: int) -> float:
    """Median milliseconds of fn(x, p) forward plus backward."""
    times = []
    for _ in range(repeats + 3):  # 3 untimed warm-up calls
        x.grad = None
        start = time.perf_counter()
        fn(x, p).sum().backward()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[3:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| tensor | p | F.dropout ms | rnnlab ms | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (shape, p) in SHAPES.items():
        x = torch.randn(shape, requires_grad=True)
        theirs = median_ms(lambda t, q: F.dropout(t, q, training=True), x, p, args.repeats)
        ours = median_ms(dropout, x, p, args.repeats)
        print(f"| {name} | {p} | {theirs:.2f} | {ours:.2f} | {theirs / ours:.2f}x |")


if __name__ == "__main__":
    main()
