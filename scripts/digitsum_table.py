#!/usr/bin/env python
"""nndl's memory experiment (section 6.1): train DigitSum classifiers at every sequence
length and print the test accuracy of each one's best checkpoint as a Markdown table.

    python scripts/digitsum_table.py [--configs digitsum_srn,digitsum_lstm] \
        [--lengths 5,10,15,20,25,30,35] [--seeds 0] [--out runs/digitsum] [KEY=VALUE ...]
    python scripts/digitsum_table.py --collect DIR [DIR ...] [--plot FILE.png]

Each (config, length, seed) is an ordinary `rnnlab train` run under --out; KEY=VALUE
overrides go to every run (e.g. train.epochs=200). The table (mean over seeds, and the
seconds each run took) is printed and written to <out>/table.md with the command, the
rows to <out>/results.json. --collect merges earlier outputs (each DIR's results.json,
labelled by the DIR's name) into one table, and --plot draws test accuracy against length,
a line per label (mean over seeds, min-max band). Until `rnnlab sweep` exists this is how
the lengths are swept. Results: docs/classification.md.
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


def table(results: list[dict], labels: list[str], lengths: list[int]) -> str:
    """A Markdown table: a row per label, mean test accuracy over seeds per length."""
    lines = [
        "| config | " + " | ".join(str(n) for n in lengths) + " | s / run |",
        "|---" * (len(lengths) + 2) + "|",
    ]
    for label in labels:
        mine = [r for r in results if r["config"] == label]
        cells = [
            f"{statistics.mean(r['test_acc'] for r in mine if r['length'] == n):.2f}"
            for n in lengths
        ]
        seconds = statistics.mean(r["wall_s"] for r in mine)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    return "\n".join(lines)


def plot(results: list[dict], labels: list[str], lengths: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for label in labels:
        accs = [
            [r["test_acc"] for r in results if r["config"] == label and r["length"] == n]
            for n in lengths
        ]
        ax.plot(lengths, [statistics.mean(a) for a in accs], marker="o", label=label)
        ax.fill_between(lengths, [min(a) for a in accs], [max(a) for a in accs], alpha=0.15)
    ax.set_xlabel("sequence length")
    ax.set_ylabel("test accuracy (best checkpoint by dev)")
    ax.set_title("DigitSum: remembering the first two digits")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="digitsum_srn,digitsum_lstm")
    parser.add_argument("--lengths", default="5,10,15,20,25,30,35")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "digitsum")
    parser.add_argument("--collect", nargs="+", type=Path, help="merge these outputs instead")
    parser.add_argument("--plot", type=Path, help="write accuracy against length here")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE for every run")
    args = parser.parse_args()
    if args.collect:
        results = []
        for folder in args.collect:
            rows = json.loads((folder / "results.json").read_text())
            results += [r | {"config": folder.name} for r in rows]
        labels = list(dict.fromkeys(r["config"] for r in results))
        lengths = sorted({r["length"] for r in results})
        print(table(results, labels, lengths))
        if args.plot:
            plot(results, labels, lengths, args.plot)
        return
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
    lines = table(results, configs, lengths)
    command = " ".join(["python scripts/digitsum_table.py", *sys.argv[1:]])
    footer = (
        f"\n\nTest accuracy of the best checkpoint (by dev accuracy), mean over seeds {seeds}; "
    )
    footer += f"{time.time() - started:.0f} s in all.\nCommand: `{command}`\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(lines + footer)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(lines + footer)


if __name__ == "__main__":
    main()
