"""Time one training step of the Time Machine language model, builtin against scratch.

For each cell (rnn, gru, lstm) and shape (hidden, batch): torch.nn's layer, rnnlab's
scratch cells eager, and scratch compiled (`model.compile: true`). One step is what
`rnnlab train` does per batch: forward over `--steps` tokens of one-hot input, cross
entropy, backward, gradient clipping, SGD. Prints one JSON object per line

    {"cell", "impl", "compiled", "hidden", "batch", "ms_per_step", "compile_s", "device"}

(ms_per_step: the lowest of --rounds medians of --repeats steps each, the variants
taking turns after --warmup steps; compile_s: the first compiled step less one steady
step), then a table of ratios to builtin.

    python scripts/bench_cells.py                      # the shapes of docs/cells.md
    python scripts/bench_cells.py --cells lstm --no-compiled --shapes 256x32
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's rnnlab

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from rnnlab.config.schema import ModelConfig  # noqa: E402
from rnnlab.models import LanguageModel  # noqa: E402
from rnnlab.models.compile import set_compiled  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default="rnn,gru,lstm")
    p.add_argument("--shapes", default="256x32,512x64", help="HIDDENxBATCH,...")
    p.add_argument("--steps", type=int, default=35, help="time steps per sequence")
    p.add_argument("--vocab", type=int, default=28)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3, help="rounds taken in turns")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-compiled", action="store_true", help="skip scratch compiled")
    p.add_argument("--cold", action="store_true", help="compile with an empty cache")
    p.add_argument("--check", action="store_true", help="compare compiled to eager grads")
    return p.parse_args(argv)


def build(cell: str, impl: str, hidden: int, vocab: int, device) -> nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, impl=impl, hidden_size=hidden)
    return LanguageModel(vocab, cfg).to(device)


def train_step(model, optimizer, X, Y) -> torch.Tensor:
    logits, _ = model(X)  # (T, B, V)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.T.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.detach()


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(model, optimizer, X, Y, n: int, device) -> float:
    """Median seconds of `n` training steps."""
    times = []
    for _ in range(n):
        sync(device)
        started = time.perf_counter()
        train_step(model, optimizer, X, Y)
        sync(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_variants(variants: dict, X, Y, args, device) -> dict:
    """{name: (ms per step, seconds of the first step)}. The variants take turns, round
    after round, so a burst of load from elsewhere hits all of them; a variant's time is
    its lowest round median."""
    first, medians = {}, {name: [] for name in variants}
    optimizers = {name: torch.optim.SGD(m.parameters(), lr=0.1) for name, m in variants.items()}
    for name, model in variants.items():
        started = time.perf_counter()
        train_step(model, optimizers[name], X, Y)  # compiles, for a compiled variant
        sync(device)
        first[name] = time.perf_counter() - started
        for _ in range(args.warmup):
            train_step(model, optimizers[name], X, Y)
    for _ in range(args.rounds):
        for name, model in variants.items():
            medians[name].append(timed_steps(model, optimizers[name], X, Y, args.repeats, device))
    return {name: (min(medians[name]) * 1e3, first[name]) for name in variants}


def max_grad_difference(cell, hidden, vocab, X, Y, device) -> float:
    """Largest difference of any gradient, eager against compiled, from the same weights."""
    grads = []
    for compiled in (False, True):
        model = build(cell, "scratch", hidden, vocab, device)
        set_compiled(model, compiled)
        logits, _ = model(X)
        F.cross_entropy(logits.reshape(-1, vocab), Y.T.reshape(-1)).backward()
        grads.append([p.grad for p in model.parameters()])
    return max((a - b).abs().max().item() for a, b in zip(*grads))


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.cold:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="rnnlab-bench-")
    shapes = [tuple(int(n) for n in s.split("x")) for s in args.shapes.split(",")]
    variants = [("builtin", False), ("scratch", False)]
    if not args.no_compiled:
        variants.append(("scratch", True))
    rows = []
    for hidden, batch in shapes:
        g = torch.Generator().manual_seed(0)
        X = torch.randint(args.vocab, (batch, args.steps), generator=g).to(device)  # (B, T)
        Y = torch.randint(args.vocab, (batch, args.steps), generator=g).to(device)
        for cell in args.cells.split(","):
            models = {}
            for impl, compiled in variants:
                models[impl, compiled] = build(cell, impl, hidden, args.vocab, device)
                set_compiled(models[impl, compiled], compiled)
            timed = time_variants(models, X, Y, args, device)
            for (impl, compiled), (ms, first) in timed.items():
                row = {
                    "cell": cell,
                    "impl": impl,
                    "compiled": compiled,
                    "hidden": hidden,
                    "batch": batch,
                    "ms_per_step": round(ms, 3),
                    "compile_s": round(first - ms / 1e3, 2) if compiled else None,
                    "device": describe(device),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
            if args.check and not args.no_compiled:
                diff = max_grad_difference(cell, hidden, args.vocab, X, Y, device)
                print(f"# {cell} {hidden}x{batch}: compiled vs eager, max grad diff {diff:.2e}")
    print_ratios(rows)


def describe(device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def print_ratios(rows: list[dict]) -> None:
    print()
    print("| cell | hidden x batch | builtin ms | scratch eager | scratch compiled |")
    print("|---|---|---|---|---|")
    for cell, hidden, batch in dict.fromkeys((r["cell"], r["hidden"], r["batch"]) for r in rows):
        mine = [r for r in rows if (r["cell"], r["hidden"], r["batch"]) == (cell, hidden, batch)]
        base = next(r["ms_per_step"] for r in mine if r["impl"] == "builtin")
        texts = []
        for compiled in (False, True):
            found = [r for r in mine if r["impl"] == "scratch" and r["compiled"] == compiled]
            ms = found[0]["ms_per_step"] if found else None
            texts.append("-" if ms is None else f"{ms:.2f} ms ({ms / base:.2f}x)")
        print(f"| {cell} | {hidden} x {batch} | {base:.2f} | {texts[0]} | {texts[1]} |")


if __name__ == "__main__":
    main()
