"""Peak memory of one layer's forward + backward, sequence layers beside nn.LSTM/nn.GRU at
the same hidden size (docs/frontier.md):

    python scripts/frontier_memory.py [--device cpu|cuda] [--cells lstm,gru,lru,s6]
                                      [--lengths 1024,4096] [--batch 8] [--hidden 128]

On CUDA the allocator's peak (torch.cuda.max_memory_allocated, reset per row). On a CPU
the peak of live tensor bytes, summed from torch.profiler's allocation records: the
process's RSS is no measure there, since glibc keeps freed blocks (S6's per-chunk
temporaries leave RSS several times its live peak). Each row's input x (T, B, H) is
counted. One JSON row per cell and length on stdout.
"""

from __future__ import annotations

import argparse
import json
import types

import torch

from rnnlab.models.cells import CELLS


def build(cell: str, hidden: int, device):
    if cell in ("lstm", "gru"):
        return getattr(torch.nn, cell.upper())(hidden, hidden).to(device)
    keys = ("state_size", "r_min", "r_max", "scan_chunk", "conv_width", "expand")
    cfg = types.SimpleNamespace(**dict.fromkeys(keys))
    layer = CELLS.get(cell).load_layer()(hidden, hidden, cfg)
    layer.init_weights()
    return layer.to(device)


def peak_mib(cell: str, length: int, args) -> float:
    device = torch.device(args.device)
    model = build(cell, args.hidden, device)
    x = torch.randn(length, args.batch, args.hidden, device=device, requires_grad=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        model(x)[0].sum().backward()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - start) / 2**20
    with torch.profiler.profile(profile_memory=True) as prof:
        model(x)[0].sum().backward()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        live += e.nbytes()
        peak = max(peak, live)
    return peak / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--cells", default="lstm,gru,mingru,minlstm,lru,s6")
    p.add_argument("--lengths", default="1024,4096")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--hidden", type=int, default=128)
    args = p.parse_args()
    for length in [int(t) for t in args.lengths.split(",")]:
        for cell in args.cells.split(","):
            row = {"cell": cell, "T": length, "B": args.batch, "hidden": args.hidden}
            row["peak_mib"] = round(peak_mib(cell, length, args), 1)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
