"""End-to-end training throughput of the shipped configs, through rnnlab's own session and
loop (data on the device, the task's loss, clipping, the optimizer, the nan guard):

    python scripts/bench_train.py [--device cpu|cuda] [--steps 40] [--warmup 10]
                                  [--configs gru_timemachine,digitsum_lstm] [--impls builtin,scratch,compiled]
                                  [--precision 32] [--write docs/performance.md]
                                  [--profile 20]

For each config and implementation (`builtin`: torch.nn layers; `scratch`: rnnlab's
cells, eager; `compiled`: scratch through torch.compile; `adaptive`: builtin with an
adaptive softmax, cutoffs 2000/6000, word-level configs only) it trains `warmup + steps`
optimizer steps and reports tokens/s over the steps after the warm-up, the time from the
start of `train` to the end of the first step (data, model, compilation), and the peak
memory (RSS on CPU, torch.cuda.max_memory_allocated on CUDA). One JSON row per
measurement on stdout; with --write, a Markdown table (machine, versions, date) between
markers in the page, replacing the previous table for the same device and precision.
With --override key=value (repeatable), more config overrides (scripts/bench_frontier.py
uses them).
With --profile, torch.profiler records the timed steps (and only them: not the warm-up, not
the evaluation at the end) and the operators that took the most time are printed after each
row.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from rnnlab.config import load_config
from rnnlab.data import check_config
from rnnlab.device import peak_memory_mb, pick_device
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run
from rnnlab.runs.progress import Reporter
from rnnlab.tasks import build_task
from rnnlab.training.callbacks import Callback
from rnnlab.training.checkpoint import TrainState
from rnnlab.training.session import build_session, run_to_end

REPO = Path(__file__).resolve().parents[1]
SKIP = {"tiny", "tiny_digitsum", "tiny_imdb"}  # test configs, not experiments
IMPLS = {
    "builtin": ["model.impl=builtin"],
    "scratch": ["model.impl=scratch", "model.compile=false"],
    "compiled": ["model.impl=scratch", "model.compile=true"],
    # word-level configs only: the same builtin model with nn.AdaptiveLogSoftmaxWithLoss
    "adaptive": [
        "model.impl=builtin",
        "model.softmax=adaptive",
        "model.adaptive_cutoffs=[2000,6000]",
    ],
}


class StepClock(Callback):
    """Times optimizer steps (synchronising CUDA) and stops after `warmup + steps`; with a
    profiler, records the steps after the warm-up."""

    def __init__(
        self, device: torch.device, warmup: int, steps: int, started: float, profiler=None
    ):
        self.device, self.warmup, self.steps, self.started = device, warmup, steps, started
        self.times: list[float] = []
        self.profiler = profiler

    def on_step(self, s, state) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.times.append(time.perf_counter())
        if self.profiler is not None and len(self.times) == self.warmup:
            self.profiler.start()
        if self.profiler is not None and len(self.times) == self.warmup + self.steps:
            self.profiler.stop()

    def stop_reason(self) -> str | None:
        return "benchmark steps done" if len(self.times) >= self.warmup + self.steps else None


def count_tokens(task) -> list[int]:
    """Wrap the task's loss so every batch's token count is recorded (the benchmark only)."""
    counts: list[int] = []
    loss = task.loss

    def counted(model, batch):
        result = loss(model, batch)
        counts.append(result.tokens)
        return result

    task.loss = counted
    return counts


def measure(config: Path, impl: str, args) -> dict:
    overrides = [f"device={args.device}", "train.epochs=100000", "train.eval_every=100000"]
    overrides += ["train.sample_every=100000", f"train.precision={args.precision}"]
    cfg = check_config(load_config(config, overrides + IMPLS[impl] + args.override))
    if cfg.model.residual and impl == "builtin":
        raise RnnlabError("a residual SRN has no builtin layer")
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    task = build_task(cfg, device)
    tokens = count_tokens(task)
    session = build_session(cfg, task, device, Reporter(quiet=True))
    profiler = torch.profiler.profile() if args.profile else None
    clock = StepClock(device, args.warmup, args.steps, started, profiler)
    session.callbacks.append(clock)
    with tempfile.TemporaryDirectory() as tmp:
        session.run = Run.create_at(Path(tmp) / "run")
        run_to_end(session, Reporter(quiet=True), TrainState())
    timed = clock.times[args.warmup - 1 :]  # from the end of the last warm-up step
    if profiler is not None:
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile))
    seconds = timed[-1] - timed[0]
    return {
        "config": config.stem,
        "impl": impl,
        "device": args.device,
        "precision": args.precision,
        "tokens_per_s": round(sum(tokens[args.warmup : args.warmup + args.steps]) / seconds),
        "step_ms": round(1000 * seconds / args.steps, 2),
        "first_step_s": round(clock.times[0] - started, 2),
        "peak_memory_mb": peak_memory_mb(device),
    }


def versions(device: str) -> str:
    text = f"torch {torch.__version__}, Python {platform.python_version()}"
    if device == "cuda" and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        cudnn = torch.backends.cudnn.version()
        text += f", CUDA {torch.version.cuda}, cuDNN {cudnn}, {name}"
    else:
        text += f", {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return text


def table(rows: list[dict], args) -> str:
    head = f"<!-- bench_train:{args.device}:{args.precision} -->"
    lines = [
        head,
        f"`python scripts/bench_train.py --device {args.device} --precision {args.precision} "
        f"--steps {args.steps} --warmup {args.warmup}` on {time.strftime('%Y-%m-%d')}: "
        f"{versions(args.device)}.",
        "",
        "| config | impl | tokens/s | ms/step | first step (s) | peak memory (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['config']} | {r['impl']} | {r['error']} | | | |")
        else:
            lines.append(
                f"| {r['config']} | {r['impl']} | {r['tokens_per_s']:,} | {r['step_ms']} | "
                f"{r['first_step_s']} | {r['peak_memory_mb']:,.0f} |"
            )
    return "\n".join(lines + [head.replace("<!--", "<!-- end")]) + "\n"


def write_table(page: Path, text: str, marker: str) -> None:
    """Replace the table between this device's markers, or append it."""
    old = page.read_text(encoding="utf-8") if page.exists() else "# Performance\n\n"
    start, end = old.find(marker), old.find(marker.replace("<!--", "<!-- end"))
    if start >= 0 and end >= 0:
        end = old.index("\n", end) + 1
        new = old[:start] + text + old[end:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    page.write_text(new, encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=40, help="timed steps after the warm-up")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--configs", default="", help="comma-separated names; default: all shipped")
    p.add_argument("--impls", default="builtin,scratch,compiled")
    p.add_argument("--precision", default="32")
    p.add_argument("--write", type=Path, help="the Markdown page to write the table into")
    p.add_argument("--profile", type=int, default=0, help="print this many top operators")
    p.add_argument("--override", action="append", default=[], help="one more key=value")
    args = p.parse_args()
    args.precision = int(args.precision) if args.precision == "32" else args.precision
    names = args.configs.split(",") if args.configs else None
    configs = sorted((REPO / "configs").glob("*.yaml"))
    configs = [c for c in configs if (c.stem in names if names else c.stem not in SKIP)]
    rows = []
    for config in configs:
        for impl in args.impls.split(","):
            if impl == "adaptive" and load_config(config).data.token != "word":
                continue  # an adaptive softmax is for word vocabularies
            try:
                row = measure(config, impl, args)
            except (RnnlabError, RuntimeError) as err:  # no builtin layer, no data, no GPU
                row = {"config": config.stem, "impl": impl, "error": str(err).splitlines()[0][:80]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.write:
        write_table(
            args.write, table(rows, args), f"<!-- bench_train:{args.device}:{args.precision} -->"
        )


if __name__ == "__main__":
    main()
