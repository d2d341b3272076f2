"""The run's curves under plots/ (the task's `plot`: loss, perplexity, accuracy against
epoch or step), redrawn after a metrics row at most every OUTPUTS_EVERY_S seconds (drawing
is slow) and once more at the end, however training ends."""

from __future__ import annotations

import time

from .base import CALLBACKS, Callback

OUTPUTS_EVERY_S = 30.0  # plots and grad_norms.csv are refreshed at most this often


class Throttle:
    """Work done at most every `seconds`: due() once that long has passed since done()."""

    def __init__(self, seconds: float):
        self.seconds, self.last = seconds, time.perf_counter()

    def due(self) -> bool:
        return time.perf_counter() - self.last > self.seconds

    def done(self) -> None:
        self.last = time.perf_counter()


@CALLBACKS.register("plots")
def plots(session) -> Callback:
    return Plots()


class Plots(Callback):
    def __init__(self):
        self.throttle = Throttle(OUTPUTS_EVERY_S)

    def on_metrics(self, s, state) -> None:
        if self.throttle.due():
            self.draw(s, state)

    def on_train_end(self, s, state, status: str) -> None:
        self.draw(s, state)

    def draw(self, s, state) -> None:
        if state.rows:
            x = "step" if s.cfg.train.eval_every_steps is not None else "epoch"
            s.task.plot(s.run, state.rows, x)
        self.throttle.done()
