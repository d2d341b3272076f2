"""Training throughput and peak memory of the sequence layers beside the gated cells
(docs/frontier.md): for each cell, each sequence length and each way to size it, the base
config (--base, default lstm_shakespeare) trained through scripts/bench_train.py with
`model.cell` set to the cell, `data.num_steps` to the length and the hidden size either
the base's (--match hidden) or the one whose recurrent stack has the base's parameter count
(--match params); weight drop off for every row (sequence layers have no W_hh). Each row
runs in its own process, so on a CPU the peak RSS is that row's own. One JSON row each on
stdout; with --write, a Markdown table between markers in the page.

    python scripts/bench_frontier.py --device cuda --cells lstm,gru,mingru,minlstm,lru,s6 \
        --lengths 64,256,1024,4096 --match hidden,params --steps 20 --warmup 5 \
        --write docs/frontier.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

from bench_train import REPO, versions, write_table

from rnnlab.config import load_config
from rnnlab.models.cells import CELLS
from rnnlab.models.stack import build_recurrent


def stack_params(model_cfg, input_size: int) -> int:
    """Parameters of the recurrent stack a model section builds (no embedding, no head)."""
    return sum(p.numel() for p in build_recurrent(model_cfg, input_size).parameters())


def cell_model(model_cfg, cell: str, hidden: int):
    impl = "scratch" if CELLS.get(cell).sequence else "builtin"
    return dataclasses.replace(model_cfg, cell=cell, impl=impl, hidden_size=hidden, weight_drop=0)


def matched_hidden(model_cfg, cell: str, input_size: int, target: int) -> int:
    """The hidden size (a multiple of 8) whose stack has the parameter count nearest target."""
    lo, hi = 8, 64
    while stack_params(cell_model(model_cfg, cell, hi), input_size) < target:
        lo, hi = hi, 2 * hi  # never builds a stack over twice the size needed
    while hi - lo > 8:  # parameters grow with the hidden size
        mid = (lo + hi) // 16 * 8
        if stack_params(cell_model(model_cfg, cell, mid), input_size) < target:
            lo = mid
        else:
            hi = mid
    counts = {h: stack_params(cell_model(model_cfg, cell, h), input_size) for h in (lo, hi)}
    return min(counts, key=lambda h: abs(counts[h] - target))


def frontier_rows(args) -> list[dict]:
    """One row per match, cell and length, each measured in a child process."""
    base = REPO / "configs" / f"{args.base}.yaml"
    model = load_config(base).model
    input_size = model.embedding if isinstance(model.embedding, int) else 128  # one-hot: ~chars
    target = stack_params(cell_model(model, model.cell, model.hidden_size), input_size)
    rows = []
    for match in args.match.split(","):
        for cell in args.cells.split(","):
            m = cell_model(model, cell, model.hidden_size)
            if match == "params":
                m = cell_model(model, cell, matched_hidden(model, cell, input_size, target))
            for length in [int(t) for t in args.lengths.split(",")]:
                row = {
                    "match": match,
                    "cell": cell,
                    "num_steps": length,
                    "hidden_size": m.hidden_size,
                    "params": stack_params(m, input_size),
                }
                row.update(measure_in_child(base, m, length, args))
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def measure_in_child(base: Path, m, length: int, args) -> dict:
    """This script on one row in a fresh process (its own peak memory); its JSON row."""
    overrides = [
        f"model.cell={m.cell}",
        f"model.hidden_size={m.hidden_size}",
        "model.weight_drop=0",
        f"data.num_steps={length}",
    ]
    cmd = [
        sys.executable,
        str(Path(__file__).with_name("bench_train.py")),
        "--configs",
        base.stem,
        "--impls",
        m.impl,
        "--device",
        args.device,
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--precision",
        str(args.precision),
    ] + [f"--override={o}" for o in overrides]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:80]}
    row = json.loads(lines[-1])
    return {k: row[k] for k in ("tokens_per_s", "step_ms", "peak_memory_mb", "error") if k in row}


def frontier_table(rows: list[dict], args) -> str:
    head = f"<!-- bench_train:frontier:{args.device}:{args.precision} -->"
    lines = [
        head,
        f"`python scripts/bench_frontier.py --device {args.device} --precision {args.precision} "
        f"--cells {args.cells} --lengths {args.lengths} --match {args.match} --steps "
        f"{args.steps} --warmup {args.warmup}` (base {args.base}) on "
        f"{time.strftime('%Y-%m-%d')}: {versions(args.device)}.",
        "",
        "| match | cell | T | hidden | stack params | tokens/s | ms/step | peak memory (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = f"| {r['match']} | {r['cell']} | {r['num_steps']} | {r['hidden_size']} | "
        cells += f"{r['params']:,} | "
        if "error" in r:
            lines.append(cells + f"{r['error']} | | |")
        else:
            lines.append(
                cells + f"{r['tokens_per_s']:,} | {r['step_ms']} | {r['peak_memory_mb']:,.0f} |"
            )
    return "\n".join(lines + [head.replace("<!--", "<!-- end")]) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=20, help="timed steps after the warm-up")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--precision", default="32")
    p.add_argument("--cells", default="lstm,gru,mingru,minlstm,lru,s6")
    p.add_argument("--lengths", default="64,256,1024,4096", help="data.num_steps")
    p.add_argument("--match", default="hidden,params", help="equal hidden size / parameters")
    p.add_argument("--base", default="lstm_shakespeare", help="the config every row starts from")
    p.add_argument("--write", type=Path, help="the Markdown page to write the table into")
    args = p.parse_args()
    rows = frontier_rows(args)
    if args.write:
        text = frontier_table(rows, args)
        write_table(args.write, text, text.splitlines()[0])


if __name__ == "__main__":
    main()
