"""When a long epoch shows a progress line between evaluations (`train.log_every_steps`).

`auto`, for epochs of over 1,000 batches only (PTB, Shakespeare: an epoch takes minutes):
the first 10 steps are timed, then the interval is the round number of steps (1, 2 or 5
times a power of ten, at least 10) that takes about `TARGET_S` seconds, so the first
figures come within about half a minute on a fast or a slow machine. A number is used as
given; null turns the lines off."""

from __future__ import annotations

import math
import time

LONG_EPOCH = 1000  # batches: auto shows lines only for epochs longer than this
TARGET_S = 30.0  # auto: seconds between two lines
PROBE_STEPS = 10  # auto: steps timed to choose the interval


class LogEvery:
    def __init__(self, setting, per_epoch: int | None, clock=time.perf_counter):
        self.clock = clock
        self.every = 0 if setting in (None, "auto") else int(setting)
        self.probing = setting == "auto" and bool(per_epoch and per_epoch > LONG_EPOCH)
        self.started: float | None = None
        self.first_step = 0

    def due(self, step: int) -> bool:
        """Whether step `step` (just finished) shows a progress line."""
        if self.probing:
            self._probe(step)
        return bool(self.every) and step % self.every == 0

    def _probe(self, step: int) -> None:
        if self.started is None:
            self.started, self.first_step = self.clock(), step
            return
        if step - self.first_step < PROBE_STEPS:
            return
        per_step = (self.clock() - self.started) / (step - self.first_step)
        self.every = nice_steps(TARGET_S / max(per_step, 1e-9))
        self.probing = False


def nice_steps(steps: float) -> int:
    """The round number (1, 2 or 5 x 10^k) at or below `steps`, at least 10."""
    if steps <= 10:
        return 10
    power = 10 ** math.floor(math.log10(steps))
    return int(max(m * power for m in (1, 2, 5) if m * power <= steps))
