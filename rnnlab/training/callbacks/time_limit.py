"""`train.time_limit: "10m"`: a wall-clock budget for training. At the first optimizer step
(or evaluation) past it, training ends as a last epoch does: evaluate, keep best.pt and
last.pt, sample, test the best checkpoint; the run is `finished` with a `stop_reason`.
The time spent before a resume counts (it travels in the checkpoint), so a resumed run
keeps the same budget; raise train.time_limit on resume to train on."""

from __future__ import annotations

import time

from rnnlab.config.techniques import parse_duration

from .base import CALLBACKS, Callback


class TimeLimit(Callback):
    def __init__(self, text: str):
        self.text, self.limit = text, parse_duration(text, "train.time_limit")
        self.before = 0.0  # seconds spent by earlier sessions of this run
        self.started = time.perf_counter()
        self.reached_at: int | None = None  # the step at which the budget ran out

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.started

    def on_train_start(self, s, state) -> None:
        self.started = time.perf_counter()

    def on_step(self, s, state) -> None:
        if self.reached_at is None and self.elapsed() >= self.limit:
            self.reached_at = state.step

    def on_epoch_end(self, s, state) -> None:
        self.on_step(s, state)  # an evaluation may have spent the rest

    def stop_reason(self) -> str | None:
        if self.reached_at is None:
            return None
        return f"time_limit: {self.text} reached after step {self.reached_at}"

    def summary(self) -> dict:
        return {"time_limit_s": self.limit}

    def state_dict(self) -> dict:
        return {"elapsed": self.elapsed()}

    def load_state_dict(self, state: dict) -> None:
        self.before = float(state.get("elapsed", 0.0)) if state else 0.0


@CALLBACKS.register("time_limit")
def time_limit(session) -> Callback | None:
    text = session.cfg.train.time_limit
    return TimeLimit(text) if text else None
