"""`train.log_grad_norms`: the L2 norm of every parameter's gradient at every step, taken
before clipping, for the gradient-explosion experiment (nndl 6.2).

Each step stacks the norms into one device tensor (no host sync); they come to the host
together at each log point, and go to `grad_norms.csv` (a `step` column, then one column
per parameter) and `plots/grad_norms.png` (a line per parameter, log scale), rewritten at
most every OUTPUTS_EVERY_S seconds and at the end. A callback: `on_after_backward` sees
the gradients before they are clipped.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from torch import nn

from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.plots import plot_lines

from .base import CALLBACKS, Callback
from .plots import OUTPUTS_EVERY_S, Throttle


@CALLBACKS.register("grad_norms")
def grad_norms(session) -> Callback | None:
    return GradNormLog(session.model) if session.cfg.train.log_grad_norms else None


class GradNormLog(Callback):
    def __init__(self, model: nn.Module):
        self.throttle = Throttle(OUTPUTS_EVERY_S)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.pending: list[torch.Tensor] = []  # (P,) per step, on the device
        self.steps: list[int] = []
        self.values = np.zeros((0, len(self.params)))  # (steps, P) on the host

    def on_train_start(self, s, state) -> None:
        if state.step:  # resumed: the norms grad_norms.csv already holds, up to this step
            self.load(s.run, state.step)

    def on_after_backward(self, s, state) -> None:
        self.record(state.step + 1)  # the step about to be taken

    def on_metrics(self, s, state) -> None:
        self.flush()
        if self.throttle.due():
            self.write(s.run)

    def on_train_end(self, s, state, status: str) -> None:
        self.write(s.run)

    def load(self, run, upto: int) -> None:
        """The norms grad_norms.csv already holds, up to step `upto`."""
        if not run.grad_norms_path.is_file():
            return
        table = np.loadtxt(run.grad_norms_path, delimiter=",", skiprows=1, ndmin=2)
        table = table[table[:, 0] <= upto] if table.size else np.zeros((0, 1 + len(self.params)))
        self.steps, self.values = [int(step) for step in table[:, 0]], table[:, 1:]

    def record(self, step: int) -> None:
        """After backward, before clipping: this step's norms, kept on the device."""
        norms = [
            p.grad.detach().norm() if p.grad is not None else p.new_zeros(()) for p in self.params
        ]
        self.pending.append(torch.stack(norms))  # (P,)
        self.steps.append(step)

    def flush(self) -> None:
        """Bring the pending norms to the host in one transfer."""
        if self.pending:
            host = torch.stack(self.pending).float().cpu().numpy()  # (pending, P)
            self.values = np.concatenate([self.values, host])
            self.pending = []

    def write(self, run) -> None:
        self.flush()
        out = io.StringIO()
        out.write(",".join(["step", *self.names]) + "\n")
        table = np.column_stack([np.array(self.steps), self.values])  # (steps, 1 + P)
        np.savetxt(out, table, delimiter=",", fmt=["%d"] + ["%.6g"] * len(self.names))
        write_atomic(run.grad_norms_path, out.getvalue())
        plot_grad_norms(
            run.plot_path("grad_norms"), self.steps, self.values, self.names, run.dir.name
        )
        self.throttle.done()


def plot_grad_norms(path, steps, values: np.ndarray, names: list[str], title: str) -> None:
    """A line per parameter on a log scale; exact zeros (a saturated tanh passes none back)
    are left out as gaps, since a log scale cannot show them."""
    shown = np.where(values > 0, values, np.nan)  # (steps, P)
    plot_lines(
        path,
        np.asarray(steps),
        {name: shown[:, i] for i, name in enumerate(names)},
        xlabel="step",
        ylabel="gradient L2 norm before clipping (log)",
        title=f"{title}: gradient norm per parameter (gaps: exactly 0)",
        logy=True,
    )
