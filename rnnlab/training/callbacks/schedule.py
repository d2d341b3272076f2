"""`optim.schedule`: the learning rate over training, as the reference programs set it.

    none     the constant optim.lr (no callback, no lr column)
    step     lr * gamma^k for epoch e, where k counts the multiplications made at the end
             of epochs start, start + step_size, start + 2 step_size, ... before e
             (start defaults to step_size: torch's StepLR). Zaremba et al. 2014 small:
             gamma 0.5, step_size 1, start 4 (epochs 1-4 at lr, epoch 5 at lr / 2, ...)
    plateau  divide by `factor` whenever an evaluation does not improve the key metric
             (after `patience` such evaluations; torch's ReduceLROnPlateau with threshold
             0); pytorch/examples word_language_model: factor 4, patience 0
    cosine   per optimizer step (nanoGPT): it < warmup_steps: lr (it + 1) / (warmup_steps + 1);
             then min_lr + (lr - min_lr) (1 + cos(pi r)) / 2 with r the share of the
             decay_steps - warmup_steps steps done; min_lr from decay_steps on (default:
             the whole run, epochs x batches per epoch). `decay_steps: budget` ends the
             decay where train.time_limit will end the run (`BudgetCosine`)

Each is registered in `rnnlab/config/schedules.py`, which the config checks read without
torch. torch.optim.lr_scheduler does the work (LambdaLR over epochs or steps, ReduceLROnPlateau),
its state_dict travels in every checkpoint and the optimizer's holds the lr itself, so
`train --resume` goes on with the very same learning rate. Each metrics row gets the lr
of the row's last optimizer step (`lr`), which the progress line shows.
"""

from __future__ import annotations

import math
import sys
import time

import torch

from rnnlab.config.schedules import SCHEDULES

from .base import CALLBACKS, Callback
from .time_limit import TimeLimit


class Schedule(Callback):
    """Base: records the lr each step used; subclasses own a torch scheduler."""

    def __init__(self, session):
        self.optimizer = session.optimizer
        self.scheduler = self.make(session)
        self.used: float | None = None  # the lr of the last optimizer step

    def make(self, session):
        raise NotImplementedError

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def on_step(self, s, state) -> None:
        self.used = self.lr()

    def on_log_point(self, s, state, row: dict, evaluated: bool) -> None:
        row["lr"] = self.used if self.used is not None else self.lr()

    def state_dict(self) -> dict:
        return {"scheduler": self.scheduler.state_dict(), "used": self.used}

    def load_state_dict(self, state: dict) -> None:
        if state:
            self.scheduler.load_state_dict(state["scheduler"])
            self.used = state["used"]


class StepSchedule(Schedule):
    """Multiply by gamma at the end of epochs start, start + step_size, ..."""

    def make(self, session):
        o = session.cfg.optim
        gamma, size = o.gamma if o.gamma is not None else 0.1, o.step_size or 1
        start = o.start if o.start is not None else size
        return torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda done: gamma ** step_multiplications(done, start, size)
        )

    def on_epoch_end(self, s, state) -> None:
        if state.epoch > self.scheduler.last_epoch:  # a whole epoch more is done
            self.scheduler.step()


def step_multiplications(done: int, start: int, size: int) -> int:
    """How many times the step schedule has multiplied once `done` epochs are done."""
    return 0 if done < start else (done - start) // size + 1


class PlateauSchedule(Schedule):
    """Divide by factor when an evaluation does not improve the task's key metric."""

    def make(self, session):
        o, task = session.cfg.optim, session.task
        self.key = task.key_metric
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer,
            mode="max" if task.higher_is_better else "min",
            factor=1.0 / (o.factor if o.factor is not None else 10.0),
            patience=o.patience or 0,
            threshold=0.0,  # any improvement counts, as pytorch/examples compares
            min_lr=o.min_lr or 0.0,
        )

    def on_log_point(self, s, state, row: dict, evaluated: bool) -> None:
        super().on_log_point(s, state, row, evaluated)  # the lr this row trained with
        if evaluated:
            self.scheduler.step(row[self.key])


class CosineSchedule(Schedule):
    """Linear warm-up, then cosine decay to min_lr, per optimizer step."""

    def make(self, session):
        o = session.cfg.optim
        self.warmup, self.min_lr = o.warmup_steps or 0, o.min_lr or 0.0
        self.decay = self.decay_length(session)
        total = (session.task.batches_per_epoch() or 1) * session.cfg.train.epochs
        if self.warmup > total:  # the learning rate never reaches optim.lr
            sys.stderr.write(
                f"warning: optim.warmup_steps {self.warmup} is longer than the run ({total} "
                f"steps): the learning rate never reaches optim.lr\n"
            )
        return torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda it: cosine_lr(it, o.lr, self.warmup, self.decay, self.min_lr) / o.lr,
        )

    def decay_length(self, session) -> int:
        """optim.decay_steps, by default the whole run (epochs x batches per epoch)."""
        o = session.cfg.optim
        return o.decay_steps or (session.task.batches_per_epoch() or 1) * session.cfg.train.epochs

    def on_step(self, s, state) -> None:
        super().on_step(s, state)
        self.scheduler.step()  # last_epoch counts the optimizer steps taken


class BudgetCosine(CosineSchedule):
    """`optim.decay_steps: budget`: the cosine decay ends where train.time_limit will end the
    run, on whatever machine it runs. The lr stays at its peak after the warm-up until
    FIT_AFTER steps of this session are timed (or the warm-up is over, if later); then

        decay_steps = step + MARGIN x (seconds left in the budget) / (seconds a step so far)

    fixed from there on and kept in the checkpoint (a resume keeps it; summary.json has it).
    MARGIN leaves room for the evaluations the timed steps did not include. Wall-clock
    fitted, so two runs differ where their machines do: set optim.decay_steps to the
    recorded number to repeat one exactly."""

    FIT_AFTER = 50
    MARGIN = 0.95
    UNFITTED = 10**12  # a decay so long that the lr is the peak until fitted

    def make(self, session):
        self.clock = TimeLimit(session.cfg.train.time_limit)  # the budget's own clock
        self.fitted, self.first = False, 0
        return super().make(session)

    def decay_length(self, session) -> int:
        return self.UNFITTED

    def on_train_start(self, s, state) -> None:
        self.clock.on_train_start(s, state)
        self.first, self.started = state.step, time.perf_counter()

    def on_step(self, s, state) -> None:
        timed = state.step - self.first
        if not self.fitted and timed >= max(self.FIT_AFTER, self.warmup - self.first):
            per_step = (time.perf_counter() - self.started) / timed
            left = self.clock.limit - self.clock.elapsed()
            self.decay, self.fitted = fit_decay(state.step, left, per_step, self.MARGIN), True
        super().on_step(s, state)

    def summary(self) -> dict:
        return {"decay_steps": self.decay} if self.fitted else {}

    def state_dict(self) -> dict:
        fit = {"decay": self.decay, "fitted": self.fitted}
        return {**super().state_dict(), **fit, "clock": self.clock.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if state:
            self.decay, self.fitted = state["decay"], state["fitted"]
            self.clock.load_state_dict(state["clock"])


def fit_decay(step: int, seconds_left: float, seconds_per_step: float, margin: float) -> int:
    """The step at which a decay fitted at `step` ends: the steps the time left holds."""
    return step + max(1, int(margin * max(seconds_left, 0.0) / seconds_per_step))


def cosine_lr(it: int, lr: float, warmup: int, decay: int, min_lr: float) -> float:
    """nanoGPT's get_lr: the learning rate of step `it` (0-based)."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it >= decay:
        return min_lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


@CALLBACKS.register("schedule")
def schedule(session) -> Callback | None:
    """The callback of the registered `optim.schedule` (rnnlab/config/schedules.py)."""
    name = session.cfg.optim.schedule
    if name == "cosine" and session.cfg.optim.decay_steps == "budget":
        return BudgetCosine(session)
    return SCHEDULES.get(name).load()(session) if name != "none" else None
