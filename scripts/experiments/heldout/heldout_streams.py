"""Held-out perplexity of a language-model run's best.pt read as N parallel streams, for
several N, without training again (`data.eval_batch_size` only changes how the held-out
text is read: fewer streams start fewer times from a zero state).

    python scripts/experiments/heldout/heldout_streams.py runs/tm/RUN [--streams 10 4 2 1]

`rnnlab evaluate` refuses a config.yaml edited after training; this reads the run's own
config and replaces `data.eval_batch_size` in memory. docs/training_techniques.md reports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

from rnnlab.device import pick_device
from rnnlab.inference.predict import load_model, task_with_vocab
from rnnlab.runs import Run

HINT = "its ids would not mean what the model learnt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--streams", type=int, nargs="+", default=[10, 4, 2, 1])
    args = parser.parse_args()
    device = pick_device("cpu")
    cfg, _, artifacts, model = load_model(Run.open(args.run), "best", device)
    for n in args.streams:
        data = dataclasses.replace(cfg.data, eval_batch_size=n)
        task = task_with_vocab(dataclasses.replace(cfg, data=data), artifacts.vocab, device, HINT)
        start = time.perf_counter()
        loss = float(task.mean_loss(model, task.split_ids("valid")))
        seconds = time.perf_counter() - start
        print(f"{args.run}  streams {n:3d}  ppl {math.exp(loss):.4f}  ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
