"""Non-finite losses (`train.on_nan`): stop with the epoch and step where the loss first
became nan or inf, or skip the updates of such steps.

`stop` costs no host sync per step: each step folds "is this loss finite?" into two device
scalars (the epoch and step of the first non-finite loss), read once per log point and
before each last.pt. `skip` must decide before `optimizer.step()`, so it reads one boolean
per step (a host sync, the price of that mode).
"""

from __future__ import annotations

import torch

from rnnlab.errors import RnnlabError


class Diverged(RnnlabError):
    """The loss became non-finite: a user error (lower the learning rate, clip)."""

    def __init__(self, epoch: int, step: int, optim):
        self.epoch, self.step = epoch, step
        clip = "none" if optim.clip is None else f"{optim.clip:g}"
        cause = f"lower optim.lr (now {optim.lr:g})"
        if optim.schedule == "step" and (optim.gamma or 0.1) > 1:  # the schedule's doing
            cause = (
                f"the step schedule multiplied the learning rate by optim.gamma "
                f"{optim.gamma:g} > 1 every optim.step_size epochs: set optim.gamma below 1"
            )
        super().__init__(
            f"training diverged: the loss became non-finite (nan or inf) at epoch {epoch}, "
            f"step {step}; {cause} or clip gradients with optim.clip "
            f"(now {clip}), or pass train.on_nan=skip to skip such steps"
        )


class NanGuard:
    def __init__(self, mode: str, device: torch.device, optim):
        self.mode, self.optim = mode, optim
        self.first_epoch = torch.full((), -1, dtype=torch.int64, device=device)
        self.first_step = torch.full((), -1, dtype=torch.int64, device=device)

    def allows(self, loss: torch.Tensor, grad_norm: torch.Tensor | None) -> bool:
        """on_nan=skip: False when this step's loss or gradient norm is not finite."""
        if self.mode != "skip":
            return True
        ok = torch.isfinite(loss.detach())
        if grad_norm is not None:
            ok = ok & torch.isfinite(grad_norm)
        return bool(ok)  # the one host sync per step of this mode

    def watch(self, loss: torch.Tensor, epoch: int, step: int) -> None:
        """on_nan=stop: remember (on the device) the first step with a non-finite loss."""
        if self.mode != "stop":
            return
        new = ~torch.isfinite(loss.detach()) & (self.first_step < 0)  # () bool
        self.first_epoch = torch.where(new, epoch, self.first_epoch)
        self.first_step = torch.where(new, step, self.first_step)

    def check(self) -> None:
        """Raise `Diverged` if a non-finite loss has been seen (one host sync)."""
        if self.mode != "stop":
            return
        epoch, step = torch.stack([self.first_epoch, self.first_step]).tolist()
        if step >= 0:
            raise Diverged(epoch, step, self.optim)
