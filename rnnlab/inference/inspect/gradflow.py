"""Gradient flow through time: ||dL/dh_t|| against the distance T - t from the loss, per
layer (and LSTM memory cell), for the trained weights and for fresh ones of the same
config, measured by `rnnlab.models.probe` on the subject's fixed batch.

Files: grad_flow.csv (run, weights, curve, distance, grad_norm), grad_flow.json
({run: {weights: {curve: [norm at distance 0, 1, ...]}}}) and grad_flow.png (log axis;
trained solid, initialisation dashed; several runs overlaid, one colour each).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from rnnlab.models.probe import describe_curve, measure_grad_flow
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.plots import pyplot, save_png


def measure(subject) -> dict[str, dict[str, list[float]]]:
    """{"trained": curves, "init": curves} of one subject (see probe.grad_flow)."""
    model_cfg = subject.cfg.model
    return {
        "trained": measure_grad_flow(subject.trained, model_cfg, *subject.batch),
        "init": measure_grad_flow(subject.fresh, model_cfg, *subject.batch),
    }


def write(out: Path, flows: dict[str, dict], title: str) -> None:
    """The CSV, JSON and PNG of {run name: measure(...)}."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["run", "weights", "curve", "distance", "grad_norm"])
    for run, by_weights in flows.items():
        for weights, curves in by_weights.items():
            for curve, values in curves.items():
                writer.writerows([run, weights, curve, k, f"{v:.6g}"] for k, v in enumerate(values))
    write_atomic(out / "grad_flow.csv", text.getvalue())
    write_atomic(out / "grad_flow.json", json.dumps(_finite(flows), indent=1) + "\n")
    plot(out / "grad_flow.png", flows, title)


def plot(path: Path, flows: dict[str, dict], title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=100)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n = 0
    for run, by_weights in flows.items():
        for curve in by_weights["trained"]:
            colour = colours[n % len(colours)]
            n += 1
            label = (f"{run}: " if len(flows) > 1 else "") + describe_curve(curve)
            for weights, style in (("trained", "-"), ("init", "--")):
                values = by_weights[weights][curve]
                kept = [(k, v) for k, v in enumerate(values) if math.isfinite(v) and v > 0]
                zeros = [k for k, v in enumerate(values) if v == 0]
                note = f" (0 from distance {zeros[0]}: saturated)" if zeros else ""
                if kept:
                    xs, ys = zip(*kept)
                    ax.plot(
                        xs,
                        ys,
                        style,
                        color=colour,
                        marker="o" if zeros or len(kept) < 3 else None,
                        markersize=4,
                        linewidth=1.6 if style == "-" else 1.1,
                        label=label + note if weights == "trained" else None,
                    )
    ax.plot([], [], "k-", label="trained")
    ax.plot([], [], "k--", label="at initialisation")
    ax.set_yscale("log")
    ax.set_xlabel("distance from the loss, T - t (steps)")
    ax.set_ylabel("||dL/dh_t||, mean over the batch (log)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    save_png(fig, path)


def lines(flows: dict[str, dict]) -> list[str]:
    """One line per run and curve: the norm at distance 0 and at the farthest distance."""
    out = []
    for run, by_weights in flows.items():
        for curve, trained in by_weights["trained"].items():
            init = by_weights["init"][curve]
            far = len(trained) - 1
            out.append(
                f"{run} {curve}: trained {trained[0]:.3g} at distance 0, {trained[-1]:.3g} at "
                f"{far}; at initialisation {init[0]:.3g} -> {init[-1]:.3g}"
            )
    return out


def _finite(value):
    """JSON has no nan or inf: they become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value if not isinstance(value, float) or math.isfinite(value) else None
