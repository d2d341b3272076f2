#!/usr/bin/env python
"""The figures of docs/results.md's Jay Chou sections (the concise, deep and bidirectional runs, and the
reproduction gaps), drawn from finished run folders.

    python scripts/experiments/jaychou_gaps/plots.py RUNS [--out docs/img/results]

RUNS holds one run folder per experiment, named as in the commands of docs/results.md
(rnn_concise, gru_concise, lstm_concise, deep_lstm2, deep_lstm6, bigru, srn_explosion,
srn_clip5_e500, srn_clip5_L5, ... ); a missing folder is left out of its figure. The textbooks'
figures come from docs/reported.yaml.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[3]
# run folder -> config name in docs/reported.yaml
LM_RUNS = {
    "rnn_concise": "rnn_concise_jaychou",
    "gru_concise": "gru_concise_jaychou",
    "lstm_concise": "lstm_concise_jaychou",
    "deep_lstm2": "deep_lstm2_jaychou",
    "deep_lstm6": "deep_lstm6_jaychou",
    "bigru": "bigru_jaychou",
}


def metrics(run: Path) -> dict[str, np.ndarray]:
    with open(run / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] else np.nan for r in rows]) for k in rows[0]}


def lm_figure(runs: Path, out: Path, plt) -> None:
    """Training perplexity by epoch, the book's printed figures as markers of one colour."""
    reported = yaml.safe_load((REPO / "docs" / "reported.yaml").read_text("utf-8"))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (folder, config) in enumerate(LM_RUNS.items()):
        if not (runs / folder / "metrics.csv").exists():
            continue
        m, colour = metrics(runs / folder), f"C{i}"
        ax.plot(m["epoch"], m["train_ppl"], color=colour, label=config.removesuffix("_jaychou"))
        book = reported[config]["train_ppl"]
        ax.plot(list(book), list(book.values()), "o", color=colour, mfc="none", ms=6)
    ax.plot([], [], "o", color="gray", mfc="none", label="book (same colour)")
    ax.set(xlabel="epoch", ylabel="training perplexity", yscale="log")
    ax.set_title("Jay Chou lyrics, concise / deep / bidirectional (lines: ours)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "jaychou_concise_train_ppl.png", dpi=80)
    plt.close(fig)


def layer_norms(run: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(steps, {group: norm per step}): the gradient norm of each recurrent layer (all its
    weights and biases together), of the output layer, before clipping."""
    path = run / "grad_norms.csv"
    names = path.read_text(encoding="utf-8").splitlines()[0].split(",")[1:]
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)  # (steps, 1 + P)
    groups: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        layer = re.search(r"_l(\d+)$", name)
        groups.setdefault(f"layer {int(layer[1]) + 1}" if layer else "output", []).append(j)
    return table[:, 0], {
        g: np.sqrt((table[:, 1:][:, cols] ** 2).sum(axis=1)) for g, cols in groups.items()
    }


def deep_figure(runs: Path, out: Path, plt) -> None:
    found = [n for n in ("deep_lstm2", "deep_lstm6") if (runs / n / "grad_norms.csv").exists()]
    if not found:
        return
    fig, axes = plt.subplots(1, len(found), figsize=(3.4 * len(found), 3.4), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), found):
        steps, norms = layer_norms(runs / name)
        for i, (group, values) in enumerate(sorted(norms.items())):
            colour = "black" if group == "output" else plt.cm.viridis(i / max(1, len(norms) - 1))
            ax.plot(steps, values, lw=0.8, color=colour, label=group)
        ax.set(
            xlabel="step (8 per epoch)",
            yscale="log",
            title=name.replace("deep_lstm", "") + " layers",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    np.atleast_1d(axes)[0].set_ylabel("gradient norm before clipping")
    fig.tight_layout()
    fig.savefig(out / "deep_lstm_jaychou_grad_norms.png", dpi=80)
    plt.close(fig)


def srn_figure(runs: Path, out: Path, plt) -> None:
    """Training loss and dev accuracy by epoch, no clipping / clip 5 / clip 20 (500 epochs):
    a row for DigitSum length 20 (nndl's) and one for length 5."""
    rows = []
    for suffix, length in (("_e500", 20), ("_L5", 5)):
        found = [
            (f"{n}{suffix}", label)
            for n, label in (
                ("srn_explosion", "no clipping"),
                ("srn_clip5", "clip at 5 (nndl)"),
                ("srn_clip20", "clip at 20 (blog)"),
            )
            if (runs / f"{n}{suffix}" / "metrics.csv").exists()
        ]
        if length == 5 and (runs / "srn_clip20_L5_lr05" / "metrics.csv").exists():
            found.append(("srn_clip20_L5_lr05", "clip at 20, lr 0.05"))
        if found:
            rows.append((length, found))
    if not rows:
        return
    fig, axes = plt.subplots(len(rows), 2, figsize=(7.2, 2.9 * len(rows)), squeeze=False)
    for (length, found), (left, right) in zip(rows, axes):
        for n, label in found:
            m = metrics(runs / n)
            left.plot(m["epoch"], m["train_loss"], lw=0.8, label=label)
            right.plot(m["epoch"], m["dev_acc"], lw=0.8, label=label)
        left.set(xlabel="epoch", ylabel="train loss per sequence", yscale="log")
        left.set_title(f"DigitSum length {length}", fontsize=8)
        right.set(xlabel="epoch", ylabel="dev accuracy", ylim=(0, 1))
        right.set_title(f"DigitSum length {length} (dotted: chance)", fontsize=8)
        right.axhline(0.1, color="gray", ls=":", lw=0.8)
        for ax in (left, right):
            ax.axvline(50, color="gray", ls="--", lw=0.8)
            ax.grid(alpha=0.3)
        left.legend(fontsize=7)
    fig.suptitle("SRN, SGD lr 0.2, batch 64, summed loss (dashed: nndl's 50 epochs)", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "srn_clip_curves.png", dpi=68)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "results")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    for draw in (lm_figure, deep_figure, srn_figure):
        draw(args.runs, args.out, plt)


if __name__ == "__main__":
    main()
