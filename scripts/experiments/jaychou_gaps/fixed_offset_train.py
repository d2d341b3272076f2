#!/usr/bin/env python
"""`rnnlab train` with the language-model samplers' random start offset fixed at 0, as in
d2l-zh's first edition (data_iter_random / data_iter_consecutive cut the corpus at the same
places every epoch), to measure what rnnlab's d2l-2nd-edition offsets cost the Jay Chou
runs (docs/results.md, "The reproduction gaps of this page, measured").

    python scripts/experiments/jaychou_gaps/fixed_offset_train.py configs/rnn_jaychou.yaml [overrides] [--run-dir D]

Takes the arguments of `rnnlab train`. rnnlab's samplers draw a new offset every epoch
(random: 0..num_steps-1, sequential: 0..num_steps); here every draw returns 0.
"""

from __future__ import annotations

import sys

from rnnlab.data import sampling


def main() -> None:
    sampling.Sampler._randint = lambda self, high: 0  # the offset draws only
    from rnnlab.cli import app

    app(["train", *sys.argv[1:]], prog_name="fixed_offset_train")


if __name__ == "__main__":
    main()
