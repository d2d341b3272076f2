"""`train.log_grad_flow: true`: at each evaluation, the gradient flow through time of the
model being trained, ||dL/dh_t|| against the distance T - t from the loss, per layer (and
for the LSTM its memory cell c_t), measured on one fixed held-out batch
(`rnnlab.tasks.heldout`) by `rnnlab.models.probe` on copies of the weights (the model, its
gradients and the random streams of training are untouched).

Writes `grad_flow.csv` (epoch, step, curve, distance, grad_norm) at every evaluation and
`plots/grad_flow.png`, a heat map of distance x evaluation per curve, with the other plots.
The curves travel in checkpoints, so a resumed run goes on from where last.pt was saved.
"""

from __future__ import annotations

import csv
import io
import time

from rnnlab.models.probe import describe_curve, measure_grad_flow, probe_supported
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.plots import pyplot, save_png
from rnnlab.tasks.heldout import grad_flow_batch

from .base import CALLBACKS, Callback

PLOT_EVERY_S = 30.0  # the heat map is redrawn at most this often, and at the end


@CALLBACKS.register("grad_flow")
def make_grad_flow(session) -> Callback | None:
    """The log, with its batch made and the model probed once: what can fail does so
    before the run folder exists."""
    if not session.cfg.train.log_grad_flow:
        return None
    probe_supported(session.model, session.cfg.model)
    return GradFlowLog(grad_flow_batch(session.task))


class GradFlowLog(Callback):
    def __init__(self, batch: tuple):
        self.batch = batch  # (tokens, targets): the task's fixed held-out batch
        self.evals: list[list[int]] = []  # [epoch, step] of each evaluation measured
        self.curves: dict[str, list[list[float]]] = {}  # name -> one curve per evaluation
        self.plotted = 0.0

    def on_log_point(self, s, state, row: dict, evaluated: bool) -> None:
        if not evaluated:
            return
        curves = measure_grad_flow(s.model, s.cfg.model, *self.batch)
        self.evals.append([int(row["epoch"]), int(state.step)])
        for name, values in curves.items():
            self.curves.setdefault(name, []).append(values)
        write_atomic(s.run.dir / "grad_flow.csv", self.csv())
        if time.perf_counter() - self.plotted > PLOT_EVERY_S:
            self.plot(s)

    def on_train_end(self, s, state, status: str) -> None:
        if self.evals:
            self.plot(s)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["epoch", "step", "curve", "distance", "grad_norm"])
        for name, per_eval in self.curves.items():
            for (epoch, step), values in zip(self.evals, per_eval):
                writer.writerows([epoch, step, name, k, f"{v:.6g}"] for k, v in enumerate(values))
        return out.getvalue()

    def plot(self, s) -> None:
        x = "step" if s.cfg.train.eval_every_steps else "epoch"
        plot_heatmaps(s.run.plot_path("grad_flow"), self.evals, self.curves, x, s.cfg.name)
        self.plotted = time.perf_counter()

    def state_dict(self) -> dict:
        return {"evals": self.evals, "curves": self.curves}

    def load_state_dict(self, state: dict) -> None:
        self.evals = [list(e) for e in state.get("evals", [])]
        self.curves = {k: [list(c) for c in v] for k, v in state.get("curves", {}).items()}


def plot_heatmaps(path, evals, curves: dict, x: str, title: str) -> None:
    """One panel per curve: log10 ||dL/dh|| by distance (rows) and evaluation (columns)."""
    import numpy as np
    from matplotlib.colors import LogNorm

    plt = pyplot()
    names = list(curves)
    fig, axes = plt.subplots(len(names), 1, figsize=(7.0, 1.2 + 2.2 * len(names)), dpi=100)
    axes = np.atleast_1d(axes)
    xs = [e[0 if x == "epoch" else 1] for e in evals]
    # under: exactly 0 (every path through time saturated); bad: inf or nan (overflowed)
    cmap = plt.get_cmap("viridis").with_extremes(under="lightgrey", bad="red")
    for ax, name in zip(axes, names):
        grid = np.array(curves[name], dtype=float).T  # (distance, evaluation)
        positive = grid[np.isfinite(grid) & (grid > 0)]
        low, high = (positive.min(), positive.max()) if positive.size else (1e-10, 1.0)
        grid[~np.isfinite(grid)] = np.nan
        grid[grid == 0] = low / 10  # drawn in the under colour
        norm = LogNorm(vmin=low, vmax=max(high, low * 10))
        edges = _edges(xs)
        rows = np.arange(grid.shape[0] + 1) - 0.5
        mesh = ax.pcolormesh(edges, rows, grid, norm=norm, cmap=cmap)
        fig.colorbar(mesh, ax=ax, label="||dL/d" + name[0] + "_t||")
        ax.set_ylabel("distance T - t")
        notes = [
            n
            for n, has in (
                ("grey: exactly 0", (grid == low / 10).any()),
                ("red: inf or nan", np.isnan(grid).any()),
            )
            if has
        ]
        extra = f" ({'; '.join(notes)})" if notes else ""
        ax.set_title(f"{title}: {describe_curve(name)}{extra}", fontsize=10)
    axes[-1].set_xlabel(x)
    save_png(fig, path)


def _edges(xs: list[int]) -> list[float]:
    """Cell edges around each evaluation's x, for pcolormesh."""
    if len(xs) == 1:
        return [xs[0] - 0.5, xs[0] + 0.5]
    mids = [(a + b) / 2 for a, b in zip(xs, xs[1:])]
    return [xs[0] - (mids[0] - xs[0])] + mids + [xs[-1] + (xs[-1] - mids[-1])]
