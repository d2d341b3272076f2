"""Gate saturation (Karpathy, Johnson and Fei-Fei 2015, figure 3): for each sigmoid gate
of an LSTM (i, f, o) or GRU (r, z), per layer and direction, the fraction of (unit, time
step) values left-saturated (< 0.1), right-saturated (> 0.9) and in between, over the
inspected text, with the trained weights.

Files: gates.csv (layer, direction, gate, left, middle, right), gates.json (the same and
each unit's left and right fractions) and gates.png (per gate, one point per unit: the
fraction of time it is left- against right-saturated, as in the paper).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch

from rnnlab.models.probe import probe, unroll
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.plots import fitted_title, pyplot, save_png

LEFT, RIGHT = 0.1, 0.9  # saturation thresholds
MAX_TOKENS = 20_000  # language models: the first this many tokens of the text
STREAMS = 32  # language models: the text is read as this many parallel streams


@torch.no_grad()
def fractions(subject) -> list[dict]:
    """One entry per layer, direction and gate (none for an SRN)."""
    p = probe(subject.trained, subject.cfg.model, dtype=torch.float32)
    counts: dict[tuple, list] = {}  # (layer, direction, gate) -> [left (H,), right (H,), n]
    for trace in _traces(p, subject):
        for layer, directions in enumerate(trace.gates):
            for k, gates in enumerate(directions):
                for name, values in gates.items():  # (T, B, H)
                    c = counts.setdefault((layer, k, name), [0, 0, 0])
                    c[0] = c[0] + (values < LEFT).sum((0, 1)).double()
                    c[1] = c[1] + (values > RIGHT).sum((0, 1)).double()
                    c[2] += values.shape[0] * values.shape[1]
    rows = []
    for (layer, k, name), (left, right, n) in counts.items():
        left, right = (left / n).tolist(), (right / n).tolist()  # per unit
        mean_left, mean_right = sum(left) / len(left), sum(right) / len(right)
        rows.append(
            {
                "layer": layer + 1,
                "direction": "reverse" if p.layers[layer][k].reverse else "forward",
                "gate": name,
                "left": mean_left,
                "middle": 1 - mean_left - mean_right,
                "right": mean_right,
                "unit_left": left,
                "unit_right": right,
            }
        )
    return rows


def _traces(p, subject):
    """Traces over the text: a language model's ids as parallel streams read window by
    window, carrying the state; a classifier's batch of sequences at once."""
    if subject.kind != "lm":
        yield unroll(p, p.inputs(subject.text))
        return
    ids = subject.text[:MAX_TOKENS]
    T = subject.cfg.data.num_steps
    streams = max(1, min(STREAMS, len(ids) // T))
    length = len(ids) // streams
    X = ids[: streams * length].view(streams, length)  # (S, L)
    state = None
    for t in range(0, length, T):
        trace = unroll(p, p.inputs(X[:, t : t + T]), state)
        state = trace.last
        yield trace


def write(out: Path, rows: list[dict], title: str) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["layer", "direction", "gate", "left", "middle", "right"])
    for r in rows:
        writer.writerow(
            [r["layer"], r["direction"], r["gate"]]
            + [f"{r[k]:.4f}" for k in ("left", "middle", "right")]
        )
    write_atomic(out / "gates.csv", text.getvalue())
    write_atomic(
        out / "gates.json",
        json.dumps({"left_below": LEFT, "right_above": RIGHT, "gates": rows}) + "\n",
    )
    plot(out / "gates.png", rows, title)


def plot(path: Path, rows: list[dict], title: str) -> None:
    plt = pyplot()
    panels = sorted({(r["layer"], r["direction"]) for r in rows})
    gates = list(dict.fromkeys(r["gate"] for r in rows))
    fig, axes = plt.subplots(
        len(panels),
        len(gates),
        figsize=(2.6 * len(gates) + 0.6, 2.6 * len(panels) + 0.8),
        dpi=100,
        squeeze=False,
    )
    names = {
        "i": "input gate i",
        "f": "forget gate f",
        "o": "output gate o",
        "r": "reset gate r",
        "z": "update gate z",
    }
    for row in rows:
        ax = axes[panels.index((row["layer"], row["direction"]))][gates.index(row["gate"])]
        ax.plot([0, 1], [1, 0], color="0.8", linewidth=0.8)
        ax.scatter(row["unit_left"], row["unit_right"], s=8, alpha=0.6)
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.03, 1.03)
        where = f"layer {row['layer']}" + (" reverse" if row["direction"] == "reverse" else "")
        ax.set_title(
            f"{where}, {names.get(row['gate'], row['gate'])}\nleft {row['left']:.2f}  right {row['right']:.2f}",
            fontsize=8,
        )
        ax.set_xlabel(f"fraction < {LEFT}", fontsize=8)
        ax.set_ylabel(f"fraction > {RIGHT}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(fitted_title(title, fig.get_figwidth(), 10), fontsize=10)
    save_png(fig, path)
