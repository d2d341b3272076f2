"""The cost of one generated token at a context position, for a language model of each cell:
a recurrence carries a state of fixed size, so a token far into the text should cost what
one near its start does.

    python scripts/bench_generate.py [--config configs/lstm_shakespeare.yaml]
                                     [--cells lstm,gru,mingru,minlstm,lru,s6]
                                     [--positions 100,1000,10000] [--tokens 200]
                                     [--device cpu] [--threads 2] [--repeats 3]
                                     [--write docs/performance.md]

For each cell, the config's model section with `model.cell` set to it (`impl: builtin` for
the gated cells, `scratch` for the sequence layers), weight drop off, over a vocabulary of 65
characters; the weights are untrained (the cost does not depend on them). For each position
P, `rnnlab predict`'s own path (the language-model task's `predict`, so `generate_chunks`,
greedy) warms the state up on a random prefix of P tokens and generates `--tokens` more;
the clock starts when the prefix's forward call returns and stops when the last token is
out, so it times the generation alone (each token's pick and one-token step). The least
of `--repeats` runs counts. One JSON row per cell and position on stdout (tokens/s, ms per
token, the median time between two tokens, and the cost at this position over the cost at
the first one); with --write, a Markdown table between the markers
`<!-- bench-generate -->` and `<!-- /bench-generate -->` in the page (host CPU, torch
version, date).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from bench_train import REPO, versions

from rnnlab.config import load_config
from rnnlab.data.vocab import Vocab
from rnnlab.device import flush_denormals
from rnnlab.models import LanguageModel
from rnnlab.models.cells import CELLS
from rnnlab.tasks.base import Artifacts, Sampling
from rnnlab.tasks.language_model import LanguageModelTask

MARKER, END = "<!-- bench-generate -->", "<!-- /bench-generate -->"
CHARS = [chr(c) for c in range(48, 48 + 65)]  # 65 distinct characters


def build_model(model_cfg, cell: str, vocab: Vocab, device: torch.device) -> LanguageModel:
    impl = "scratch" if CELLS.get(cell).sequence else "builtin"
    cell_cfg = dataclasses.replace(model_cfg, cell=cell, impl=impl, weight_drop=0)
    torch.manual_seed(0)
    return LanguageModel(len(vocab), cell_cfg).to(device).eval()


def time_generation(
    cfg, model, vocab: Vocab, prefix: list[str], tokens: int, device
) -> tuple[float, float]:
    """(seconds from the end of the prefix's forward call to the last generated token, the
    median seconds between two one-token steps' ends)."""
    ends: list[float] = []

    def stamp(module, inputs, output) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        ends.append(time.perf_counter())

    hook = model.register_forward_hook(stamp)
    try:
        with flush_denormals(device):
            pieces = LanguageModelTask.predict(
                cfg, Artifacts(vocab), model, prefix, Sampling(num_tokens=tokens)
            )
            generated = sum(len(piece) for piece in pieces) - len(prefix)
        done = time.perf_counter()
    finally:
        hook.remove()
    assert generated == tokens and len(ends) == tokens + 1, (generated, len(ends))
    steps = np.diff(ends)  # (tokens,): each token's pick and step
    return done - ends[0], float(np.median(steps))  # ends[0]: the prefix's call returned


def measure(cfg, cell: str, positions: list[int], args) -> list[dict]:
    device = torch.device(args.device)
    vocab = Vocab(CHARS)
    model = build_model(cfg.model, cell, vocab, device)
    rng = np.random.default_rng(0)
    rows: list[dict] = []
    for position in positions:
        prefix = [str(c) for c in rng.choice(CHARS, position)]
        runs = [
            time_generation(cfg, model, vocab, prefix, args.tokens, device)
            for _ in range(args.repeats)
        ]
        seconds, median = min(r[0] for r in runs), min(r[1] for r in runs)
        ms = 1000 * seconds / args.tokens
        rows.append(
            {
                "cell": cell,
                "impl": "scratch" if CELLS.get(cell).sequence else "builtin",
                "position": position,
                "tokens": args.tokens,
                "tokens_per_s": round(args.tokens / seconds, 1),
                "ms_per_token": round(ms, 4),
                "median_step_ms": round(1000 * median, 4),
                "cost_vs_first": round(ms / rows[0]["ms_per_token"], 3) if rows else 1.0,
                # the same from the median step: a few slow first tokens or a busy moment of
                # the machine do not move it
                "median_vs_first": (
                    round(median / (rows[0]["median_step_ms"] / 1000), 3) if rows else 1.0
                ),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def host_cpu() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def table(rows: list[dict], positions: list[int], args) -> str:
    command = (
        f"`python scripts/bench_generate.py --cells {args.cells} "
        f"--positions {','.join(map(str, positions))} --tokens {args.tokens} "
        f"--device {args.device} --threads {args.threads}`"
    )
    head = " | ".join(f"tokens/s at {p:,}" for p in positions)
    lines = [
        MARKER,
        f"{command} on {time.strftime('%Y-%m-%d')}: config `{args.config.name}`'s model "
        f"section, untrained, greedy; {host_cpu()}, {versions(args.device)}. The last two "
        f"columns are the cost of a token at position {positions[-1]:,} over its cost at "
        f"{positions[0]:,}: from the mean time per token, and from the median step.",
        "",
        f"| cell | impl | {head} | cost ratio (mean) | cost ratio (median step) |",
        "| --- | --- | " + "---: | " * len(positions) + "---: | ---: |",
    ]
    for cell in dict.fromkeys(r["cell"] for r in rows):
        mine = [r for r in rows if r["cell"] == cell]
        speeds = " | ".join(f"{r['tokens_per_s']:,.0f}" for r in mine)
        ratios = f"{mine[-1]['cost_vs_first']} | {mine[-1]['median_vs_first']}"
        lines.append(f"| {cell} | {mine[0]['impl']} | {speeds} | {ratios} |")
    return "\n".join(lines + [END]) + "\n"


def write_table(page: Path, text: str) -> None:
    """Replace the table between the markers, or append it."""
    old = page.read_text(encoding="utf-8") if page.exists() else "# Performance\n\n"
    start, end = old.find(MARKER), old.find(END)
    if start >= 0 and end >= 0:
        new = old[:start] + text + old[old.index("\n", end) + 1 :]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    page.write_text(new, encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=REPO / "configs" / "lstm_shakespeare.yaml")
    p.add_argument("--cells", default="lstm,gru,mingru,minlstm,lru,s6")
    p.add_argument("--positions", default="100,1000,10000", help="context lengths P")
    p.add_argument("--tokens", type=int, default=200, help="tokens generated at each P")
    p.add_argument("--repeats", type=int, default=3, help="the least of this many runs counts")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--write", type=Path, help="the Markdown page to write the table into")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    cfg = load_config(args.config, ["model.weight_drop=0"])
    positions = [int(p) for p in args.positions.split(",")]
    rows = [row for cell in args.cells.split(",") for row in measure(cfg, cell, positions, args)]
    if args.write:
        write_table(args.write, table(rows, positions, args))


if __name__ == "__main__":
    main()
