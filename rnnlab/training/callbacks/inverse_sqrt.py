"""`optim.schedule: inverse_sqrt`: the Transformer's schedule (Vaswani et al. 2017, as
fairseq's inverse_sqrt), per optimizer step n = 1, 2, ...:

    lr_n = lr * min(n / warmup_steps, sqrt(warmup_steps / n))

a linear warm-up to lr at step warmup_steps, then a decay as 1 / sqrt(n). warmup_steps 0
(the default) starts the decay at once: lr / sqrt(n).
"""

from __future__ import annotations

import math

import torch

from .schedule import Schedule


class InverseSqrt(Schedule):
    """Linear warm-up, then lr * sqrt(warmup_steps / n), per optimizer step."""

    def make(self, session):
        warmup = max(session.cfg.optim.warmup_steps or 0, 1)
        return torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda it: inverse_sqrt(it + 1, warmup)
        )

    def on_step(self, s, state) -> None:
        super().on_step(s, state)
        self.scheduler.step()  # last_epoch counts the optimizer steps taken


def inverse_sqrt(n: int, warmup: int) -> float:
    """The factor of lr at optimizer step n (1-based)."""
    return min(n / warmup, math.sqrt(warmup / n))
