"""Training speed on a machine that another training keeps busy, for four thread settings:

    python scripts/threads_under_load.py [--config configs/gru_timemachine.yaml]
                                         [--seconds 60] [--no-load] [--settings 1 thread,auto]

A second training (the same config, torch's default threads) runs in the background for
the whole measurement, as another user's job would. Each setting then trains the config
for `--seconds` of wall clock (train.time_limit) in its own process, and its median
tokens/s (summary.json) is reported:

    default   torch's default intra-op threads (all usable cores), OpenMP's spinning wait
    1 thread  threads=1
    passive   default threads, OMP_WAIT_POLICY=PASSIVE (idle threads sleep)
    both      threads=1 and OMP_WAIT_POLICY=PASSIVE
    auto      rnnlab's default (`threads: auto`, rnnlab/cpus.py)

Prints a Markdown table with the host's CPU, core count and the date. With --no-load the
background training is left out (the idle-machine reference). The machine should be
otherwise idle: the point is one known competitor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {  # name: (threads override or None for torch's default, extra environment)
    "default": (None, {}),
    "1 thread": (1, {}),
    "passive": (None, {"OMP_WAIT_POLICY": "PASSIVE"}),
    "both": (1, {"OMP_WAIT_POLICY": "PASSIVE"}),
    "auto": ("auto", {}),
}


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    return {**env, **extra}


def train(config: str, out: Path, seconds: int, threads, extra_env: dict) -> dict:
    """One timed training; its summary.json."""
    run_dir = out / f"run-{time.time_ns()}"
    threads = cores() if threads is None else threads  # torch's default: every usable core
    cmd = [sys.executable, "-m", "rnnlab", "train", config, f"threads={threads}",
           f"train.time_limit={seconds}s", "--run-dir", str(run_dir), "--quiet"]  # fmt: skip
    subprocess.run(cmd, env=environment(extra_env), check=True, stdout=subprocess.DEVNULL)
    return json.loads((run_dir / "summary.json").read_text())


def start_load(config: str, out: Path) -> subprocess.Popen:
    """The competitor: the same config, torch's default threads, until it is stopped."""
    cmd = [sys.executable, "-m", "rnnlab", "train", config, f"threads={cores()}",
           "train.epochs=100000", "--run-dir", str(out / "load"), "--quiet"]  # fmt: skip
    return subprocess.Popen(cmd, env=environment({}), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def table(rows: list[tuple[str, dict]], config: str, loaded: bool) -> str:
    load = "a second training of the same config running" if loaded else "no other load"
    lines = [
        f"Host: {cpu_name()}, {cores()} usable cores; {time.strftime('%Y-%m-%d')}; "
        f"`{config}`, {load}.",
        "",
        "| setting | threads | OMP_WAIT_POLICY | tokens/s | vs first row |",
        "|---|---:|---|---:|---:|",
    ]
    base = rows[0][1].get("tokens_per_s") or 0.0  # the first setting (default, unless chosen)
    for name, summary in rows:
        speed = summary.get("tokens_per_s") or 0.0
        ratio = f"{speed / base:.2f}x" if base else "-"
        policy = SETTINGS[name][1].get("OMP_WAIT_POLICY", "(default)")
        threads = summary.get("threads", "?")
        lines.append(f"| {name} | {threads} | {policy} | {speed:,.0f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/gru_timemachine.yaml")
    parser.add_argument("--seconds", type=int, default=60, help="training time per setting")
    parser.add_argument("--no-load", action="store_true", help="no background training")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="which, comma-separated")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.settings.split(",")]
    unknown = [name for name in chosen if name not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting {unknown[0]!r}; known: {', '.join(SETTINGS)}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        load = None if args.no_load else start_load(args.config, out)
        try:
            if load is not None:
                time.sleep(min(10, args.seconds))  # past its start-up, into its epochs
            rows = []
            for name in chosen:
                threads, extra = SETTINGS[name]
                rows.append((name, train(args.config, out, args.seconds, threads, extra)))
                print(f"{name}: {rows[-1][1].get('tokens_per_s') or 0:,.0f} tok/s", file=sys.stderr)
        finally:
            if load is not None:
                load.terminate()
                load.wait()
    print(table(rows, args.config, load is not None))


if __name__ == "__main__":
    main()
