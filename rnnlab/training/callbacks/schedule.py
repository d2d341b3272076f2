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
             the whole run, epochs x batches per epoch)

torch.optim.lr_scheduler does the work (LambdaLR over epochs or steps, ReduceLROnPlateau),
its state_dict travels in every checkpoint and the optimizer's holds the lr itself, so
`train --resume` goes on with the very same learning rate. Each metrics row gets the lr
of the row's last optimizer step (`lr`), which the progress line shows.
"""

from __future__ import annotations

import math

import torch

from .base import CALLBACKS, Callback


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
        warmup, min_lr = o.warmup_steps or 0, o.min_lr or 0.0
        decay = o.decay_steps or (session.task.batches_per_epoch() or 1) * session.cfg.train.epochs
        return torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda it: cosine_lr(it, o.lr, warmup, decay, min_lr) / o.lr
        )

    def on_step(self, s, state) -> None:
        super().on_step(s, state)
        self.scheduler.step()  # last_epoch counts the optimizer steps taken


def cosine_lr(it: int, lr: float, warmup: int, decay: int, min_lr: float) -> float:
    """nanoGPT's get_lr: the learning rate of step `it` (0-based)."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it >= decay:
        return min_lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


SCHEDULES = {"step": StepSchedule, "plateau": PlateauSchedule, "cosine": CosineSchedule}


@CALLBACKS.register("schedule")
def schedule(session) -> Callback | None:
    name = session.cfg.optim.schedule
    return SCHEDULES[name](session) if name != "none" else None
