"""Whole-command wall time of `rnnlab train configs/gru_timemachine.yaml` against the d2l
loop (`scripts/experiments/d2l_speed/d2l_loop_baseline.py`, the same model, data, sampler and optimizer), run
in turns so that both see the same machine:

    python scripts/experiments/d2l_speed/d2l_ratio.py [--epochs 100] [--pairs 3]

Each pair runs d2l first, then rnnlab (the next pair the other way round), as separate
processes from a cold start (imports, data, model, everything a user waits for). Prints
each time, the median of each side and the ratio rnnlab / d2l (below 1: rnnlab faster).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--pairs", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as out:
        rnnlab = [sys.executable, "-m", "rnnlab", "train", "configs/gru_timemachine.yaml",
                  f"train.epochs={args.epochs}", "--quiet", "--out", out]  # fmt: skip
        d2l = [
            sys.executable,
            "scripts/experiments/d2l_speed/d2l_loop_baseline.py",
            "--epochs",
            str(args.epochs),
        ]
        times: dict[str, list[float]] = {"rnnlab": [], "d2l": []}
        for pair in range(args.pairs):
            order = [("d2l", d2l), ("rnnlab", rnnlab)]
            for name, command in order if pair % 2 == 0 else order[::-1]:
                times[name].append(timed(command))
                print(f"pair {pair + 1}: {name:6s} {times[name][-1]:6.1f} s", flush=True)
    a, b = statistics.median(times["rnnlab"]), statistics.median(times["d2l"])
    print(f"median: rnnlab {a:.1f} s, d2l {b:.1f} s; ratio rnnlab/d2l {a / b:.3f}")


if __name__ == "__main__":
    main()
