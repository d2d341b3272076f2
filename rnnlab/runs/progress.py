"""What a training run shows: a rich progress bar with a live metrics line in a terminal,
plain log lines at each evaluation everywhere (so CI logs and pipes read well)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def format_row(row: dict) -> str:
    """'epoch 10  step 540  train_ppl 9.84  val_ppl 10.3  41.2k tok/s' (losses shown when
    no ppl)."""
    parts = [f"{key} {row[key]}" for key in ("epoch", "step") if key in row]
    for key, value in row.items():
        if key in ("epoch", "step") or value is None:
            continue
        if key.endswith("_loss") and key.replace("_loss", "_ppl") in row:
            continue
        if key == "train_s":
            continue
        if key == "tokens_per_s":
            parts.append(f"{value / 1000:.1f}k tok/s")
        elif isinstance(value, float):
            parts.append(f"{key} {value:.4g}")
    return "  ".join(parts)


def closing_lines(summary: dict, run_dir) -> list[str]:
    """The run in two lines, from its summary.json: status, best validation figure and its
    epoch, test figure, wall time, tokens/s; then the run folder."""
    key = summary.get("key_metric")
    best = summary.get("best") or {}
    parts = [f"summary: {summary.get('status')}"]
    if key and isinstance(best.get(key), (int, float)):
        parts.append(f"best {key} {best[key]:.4g} (epoch {best.get('epoch')})")
    test = summary.get("test") or {}
    test_key = "test_" + key.split("_", 1)[-1] if key else None  # val_ppl, dev_acc: test_*
    if test_key in test and isinstance(test[test_key], (int, float)):
        parts.append(f"{test_key} {test[test_key]:.4g}")
    if isinstance(summary.get("wall_s"), (int, float)):
        took = f"wall {summary['wall_s']:.1f} s"
        if isinstance(summary.get("test_s"), (int, float)):
            took += f" (test {summary['test_s']:.1f} s)"
        parts.append(took)
    if isinstance(summary.get("tokens_per_s"), (int, float)):
        parts.append(f"{summary['tokens_per_s'] / 1000:.1f}k tok/s")
    return ["  ".join(parts), f"run folder: {run_dir}"]


class SlowdownWatch:
    """Notices, once, when a run's tokens/s falls below a third of its own first minute's
    (rows' `tokens_per_s` and `train_s`), and says what the likely cause is."""

    BASELINE_S = 60.0  # training seconds that make the first-minute speed
    FACTOR = 3.0  # "far below": a third or less

    def __init__(self, load=None):
        self.first: list[float] = []  # tokens/s of the rows in the first minute
        self.seconds = 0.0
        self.said = False
        self.load = load or _load_per_core

    def check(self, row: dict) -> str | None:
        speed, took = row.get("tokens_per_s"), row.get("train_s")
        if self.said or not isinstance(speed, (int, float)) or not isinstance(took, float):
            return None
        if self.seconds < self.BASELINE_S or not self.first:
            self.seconds += took
            self.first.append(speed)
            return None
        base = sorted(self.first)[len(self.first) // 2]
        if speed * self.FACTOR > base:
            return None
        self.said = True
        load, cores = self.load()
        cause = (
            f"the machine is busy (load {load:.1f} on {cores} cores): other jobs hold the "
            f"cores; fewer threads (--threads 1) suffer least"
            if load > cores * 0.9
            else "not the machine's load: a slower phase (memory, swapping, thermal limits?)"
        )
        return f"note: {speed / 1000:.1f}k tok/s, under a third of the first minute's {base / 1000:.1f}k: likely {cause}"


def _load_per_core() -> tuple[float, int]:
    import os

    try:
        return os.getloadavg()[0], os.cpu_count() or 1
    except (AttributeError, OSError):
        return 0.0, os.cpu_count() or 1


class Reporter:
    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.progress: Progress | None = None
        self.slowdown = SlowdownWatch()

    def message(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, markup=False)

    def warn(self, text: str) -> None:
        """A `warning:` line on stderr, even when quiet."""
        import sys

        print(f"warning: {text}", file=sys.stderr, flush=True)

    def start(self, total_epochs: int, done: int = 0) -> None:
        if self.quiet or not self.console.is_terminal:
            return
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[line]}"),
            console=self.console,
        )
        self.progress.start()
        self.bar = self.progress.add_task("train", total=total_epochs, completed=done, line="")

    def epoch(self, row: dict, evaluated: bool) -> None:
        """A metrics row (each epoch, or each evaluation when evaluating by steps)."""
        note = self.slowdown.check(row)
        if self.progress is not None:
            self.progress.update(self.bar, line=format_row(row))
        if evaluated:
            self.message(format_row(row))
        if note:
            self.message(note)

    def progress_line(self, epoch: int, step: int, row: dict) -> None:
        """Between evaluations of a long epoch: the training figures so far."""
        line = format_row({"epoch": epoch, "step": step, **row})
        if self.progress is not None:
            self.progress.update(self.bar, line=line)
        else:
            self.message(line + "  (train, so far)")

    def advance(self, epochs_done: int) -> None:
        if self.progress is not None:
            self.progress.update(self.bar, completed=epochs_done)

    def samples(self, epoch: int, texts: list[str]) -> None:
        """Each sample quoted on its own line; a newline in a sample breaks the line there
        (indented under the sample), as the text would print."""
        for text in texts:
            lead = f"  [{epoch}] "
            lines = [repr(line)[1:-1] for line in text.split("\n")]  # escapes, not quotes
            self.message(lead + "'" + ("\n" + " " * (len(lead) + 1)).join(lines) + "'")

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class SweepReporter:
    """A sweep's progress: a bar of runs done (with ETA) in a terminal, and one line per
    finished run with its key metric everywhere."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.progress: Progress | None = None
        self.done = self.total = 0

    def start(self, total: int, done: int = 0) -> None:
        self.total, self.done = total, done
        if done:
            self.console.print(f"{done} of {total} runs already finished", markup=False)
        if not self.console.is_terminal:
            return
        self.progress = Progress(
            TextColumn("[bold]sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.progress.start()
        self.bar = self.progress.add_task("sweep", total=total, completed=done)

    def run_done(self, row: dict, metric: str | None) -> None:
        self.done += 1
        value = row.get(metric) if metric else None
        shown = f"  {metric} {value:.4g}" if isinstance(value, (int, float)) else ""
        error = f"  ({row['error']})" if row.get("error") else ""
        line = f"[{self.done}/{self.total}] {row['run']}  {row['status']}{shown}{error}"
        self.console.print(f"{line}  {row.get('wall_s') or 0:.1f} s", markup=False)
        if self.progress is not None:
            self.progress.update(self.bar, completed=self.done)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
