"""Train configs/gru_timemachine.yaml (d2l section 9.1) and print what it reached.

    python scripts/train_gru_timemachine.py [KEY=VALUE ...]

Prints the final training perplexity (d2l reports 1.0-1.1 after 500 epochs), the best
validation perplexity, the median tokens/s and the wall time, then the run folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(overrides: list[str]) -> None:
    config = REPO / "configs" / "gru_timemachine.yaml"
    started = time.time()
    cmd = [sys.executable, "-m", "rnnlab", "train", str(config), "--quiet", *overrides]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    summary = json.loads((REPO / run_dir / "summary.json").read_text())
    best_key = [k for k in summary["best"] if k != "epoch"][0]
    print(f"epochs            {summary['epochs']}")
    print(f"train perplexity  {summary['final']['train_ppl']:.3f}")
    print(f"best {best_key:12s} {summary['best'][best_key]:.3f} (epoch {summary['best']['epoch']})")
    print(f"tokens/s          {summary['tokens_per_s']:,.0f}")
    print(f"wall time         {time.time() - started:.1f} s on {summary['device']}")
    print(f"run               {run_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
