#!/usr/bin/env python
"""nndl's memory experiment (section 6.1): train DigitSum classifiers at every sequence
length and print the test accuracy of each one's best checkpoint as a Markdown table.

    python scripts/digitsum_table.py [--configs digitsum_srn,digitsum_lstm] \
        [--lengths 5,10,15,20,25,30,35] [--seeds 0] [--out runs/digitsum] [KEY=VALUE ...]

Each (config, length, seed) is an ordinary `rnnlab train` run under --out; KEY=VALUE
overrides go to every run (e.g. train.epochs=200). The table (mean over seeds, and the
seconds each run took) is printed and written to <out>/table.md with the command. Until
`rnnlab sweep` exists this is how the lengths are swept. Results: docs/classification.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def train(config: str, length: int, seed: int, out: Path, overrides: list[str]) -> dict:
    command = [sys.executable, "-m", "rnnlab", "train", str(REPO / "configs" / f"{config}.yaml")]
    command += [f"data.length={length}", f"seed={seed}", *overrides, "--out", str(out), "--quiet"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    run = Path(done.stdout.strip().splitlines()[-1])
    return json.loads((run / "summary.json").read_text()) | {"run": str(run)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="digitsum_srn,digitsum_lstm")
    parser.add_argument("--lengths", default="5,10,15,20,25,30,35")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "digitsum")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE for every run")
    args = parser.parse_args()
    configs = args.configs.split(",")
    lengths = [int(x) for x in args.lengths.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    results, started = [], time.time()
    for config in configs:
        for length in lengths:
            for seed in seeds:
                summary = train(config, length, seed, args.out, args.overrides)
                row = {"config": config, "length": length, "seed": seed, "run": summary["run"]}
                row |= {
                    "test_acc": summary["test"]["test_acc"],
                    "best_step": summary["best"]["step"],
                }
                row |= {"dev_acc": summary["best"]["dev_acc"], "wall_s": summary["wall_s"]}
                results.append(row)
                print(json.dumps(row), flush=True)
    lines = [
        "| config | " + " | ".join(str(n) for n in lengths) + " | s / run |",
        "|---" * (len(lengths) + 2) + "|",
    ]
    for config in configs:
        mine = [r for r in results if r["config"] == config]
        cells = [
            f"{statistics.mean(r['test_acc'] for r in mine if r['length'] == n):.2f}"
            for n in lengths
        ]
        seconds = statistics.mean(r["wall_s"] for r in mine)
        lines.append(f"| {config} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    command = " ".join(["python scripts/digitsum_table.py", *sys.argv[1:]])
    table = "\n".join(lines)
    footer = (
        f"\n\nTest accuracy of the best checkpoint (by dev accuracy), mean over seeds {seeds}; "
    )
    footer += f"{time.time() - started:.0f} s in all.\nCommand: `{command}`\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(table + footer)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(table + footer)


if __name__ == "__main__":
    main()
