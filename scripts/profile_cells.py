"""Where a training step's time goes: torch.profiler's operator table for one model of
scripts/bench_cells.py (same step: forward, loss, backward, clipping, SGD).

    python scripts/profile_cells.py --cell lstm --impl scratch
    python scripts/profile_cells.py --cell lstm --impl scratch --compiled --rows 15
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from bench_cells import build, train_step  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from rnnlab.models.compile import set_compiled  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", default="lstm")
    p.add_argument("--impl", default="scratch", choices=["builtin", "scratch"])
    p.add_argument("--compiled", action="store_true")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=35)
    p.add_argument("--vocab", type=int, default=28)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--rows", type=int, default=20)
    p.add_argument("--shapes", action="store_true", help="group by input shapes")
    args = p.parse_args(argv)
    device = torch.device("cpu")
    model = build(args.cell, args.impl, args.hidden, args.vocab, device)
    set_compiled(model, args.compiled)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    X = torch.randint(args.vocab, (args.batch, args.steps), generator=g)
    Y = torch.randint(args.vocab, (args.batch, args.steps), generator=g)
    for _ in range(5):  # warm-up (and compile)
        train_step(model, optimizer, X, Y)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=args.shapes) as prof:
        for _ in range(args.repeats):
            train_step(model, optimizer, X, Y)
    table = prof.key_averages(group_by_input_shape=args.shapes)
    print(
        f"{args.repeats} steps of {args.impl} {args.cell}" + (" compiled" if args.compiled else "")
    )
    print(table.table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=50))


if __name__ == "__main__":
    main()
