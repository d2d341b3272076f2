"""`optim.average`: evaluate, keep and test an average of the weights instead of the last
ones (Polyak averaging; the "A" of AWD-LSTM's NT-ASGD; an EMA as nanoGPT-era and timm
training keep one). Training itself goes on with the raw weights.

    uniform  the mean of the weights after every optimizer step from step
             optim.average_start on: avg_n = avg_{n-1} + (w - avg_{n-1}) / n
    ema      an exponential moving average from that step: avg = avg + (1 - decay)(w - avg),
             decay optim.average_decay (default 0.999: about the last 1000 steps)

At each evaluation (and for the samples) the average is swapped into the model, so the
validation metric, best.pt, the test of best.pt and `rnnlab predict` all use it; the raw
weights are swapped back before the next step. last.pt holds the raw weights and the
average (this callback's state), so `train --resume` goes on exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .base import CALLBACKS, Callback

DEFAULT_DECAY = 0.999


class WeightAverage(Callback):
    def __init__(self, model: torch.nn.Module, kind: str, start: int, decay: float):
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.kind, self.start, self.decay = kind, start, decay
        self.average: list[torch.Tensor] | None = None  # one tensor per parameter
        self.n = 0  # weights averaged so far

    def on_step(self, s, state) -> None:
        if state.step < self.start:
            return
        with torch.no_grad():
            if self.average is None:  # the first averaged step: the weights themselves
                self.average, self.n = [p.detach().clone() for p in self.params], 1
                return
            self.n += 1
            weight = 1.0 / self.n if self.kind == "uniform" else 1.0 - self.decay
            for avg, p in zip(self.average, self.params):
                avg.lerp_(p.detach(), weight)  # avg += weight * (p - avg)

    @contextmanager
    def evaluation_weights(self, s) -> Iterator[None]:
        if self.average is None:  # not started yet: the raw weights
            yield
            return
        with torch.no_grad():
            raw = [p.detach().clone() for p in self.params]
            for p, avg in zip(self.params, self.average):
                p.copy_(avg)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, w in zip(self.params, raw):
                    p.copy_(w)

    def summary(self) -> dict:
        return {"average": {"kind": self.kind, "from_step": self.start, "steps": self.n}}

    def state_dict(self) -> dict:
        return {"average": self.average, "n": self.n}

    def load_state_dict(self, state: dict) -> None:
        if state and state["average"] is not None:
            self.average = [a.to(p.device) for a, p in zip(state["average"], self.params)]
            self.n = state["n"]


@CALLBACKS.register("average")
def average(session) -> Callback | None:
    o = session.cfg.optim
    if o.average == "none":
        return None
    decay = o.average_decay if o.average_decay is not None else DEFAULT_DECAY
    return WeightAverage(session.model, o.average, o.average_start or 0, decay)
