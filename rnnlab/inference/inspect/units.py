"""What single units track (Karpathy, Johnson and Fei-Fei 2015): a language model's hidden
units over a passage, ranked by their correlation with simple properties of the text.

A unit is `L:K`: layer L (from 1) and unit K (from 0; with two directions, the reverse
direction's units follow the forward ones, as in the layer's output). Its activation at a
token is h after reading that token. The properties, per token (what is true once it is
read), computed with NumPy over the whole passage:

    inside quotes       after an odd number of '"' (or inside a '“...”' / '«...»' pair)
    inside parentheses  more '(' than ')' so far
    position in line    tokens since the last newline (only where the passage has one)
    after newline       the token before is a newline
    start of word       a letter or digit after something that is not
    position in word    1, 2, ... through a word's letters and digits, 0 elsewhere

Files: units.csv (a row per unit: its correlation with each property), units.json (the
top units, each property's best units, the passage) and units.png (a heat map of the top
units over the start of the passage).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import torch

from rnnlab.models.probe import probe, unroll
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.plots import fitted_title, pyplot, save_png
from rnnlab.runs.strictjson import dumps

PASSAGE = 2000  # tokens of a split's text the units are read over
TOP = 12  # units on the page's list
HEAT_UNITS, HEAT_TOKENS = 8, 72  # the PNG: top units over the passage's first tokens


def properties(tokens: list[str]) -> dict[str, np.ndarray]:
    """Each property over the tokens (N,) float64; a property that is constant over the
    passage (nothing to correlate with) is left out."""
    t = np.array(tokens, dtype=object).astype(str)  # (N,)
    idx = np.arange(len(t))
    newline = t == "\n"
    word = np.char.isalnum(t)
    before = np.concatenate([[False], word[:-1]])
    starts = word & ~before
    quotes = np.char.count(t, '"') if len(t) else np.zeros(0, int)
    pairs: np.ndarray = np.cumsum(np.isin(t, ["“", "«"])) - np.cumsum(np.isin(t, ["”", "»"]))
    last_newline = np.maximum.accumulate(np.where(newline, idx, -1))
    word_start = np.maximum.accumulate(np.where(starts, idx, -1))
    found = {
        "inside quotes": (np.cumsum(quotes) % 2 == 1) | (pairs > 0),
        "inside parentheses": np.cumsum(t == "(") - np.cumsum(t == ")") > 0,
        "position in line": np.where(last_newline >= 0, idx - last_newline, np.nan)
        if newline.any()
        else np.full(len(t), np.nan),
        "after newline": np.concatenate([[False], newline[:-1]]),
        "start of word": starts,
        "position in word": np.where(word, idx - word_start + 1, 0),
    }
    kept = {}
    for name, values in found.items():
        values = np.asarray(values, dtype=np.float64)
        ok = values[np.isfinite(values)]
        if ok.size > 1 and ok.min() != ok.max():
            kept[name] = values
    return kept


def correlations(acts: np.ndarray, props: dict[str, np.ndarray]) -> np.ndarray:
    """Pearson r of every unit (acts (N, U)) with every property: (U, P); nan where a unit
    is constant. Steps where a property is undefined (nan) are left out of its r."""
    out = np.full((acts.shape[1], len(props)), np.nan)
    for j, values in enumerate(props.values()):
        keep = np.isfinite(values)
        a, v = acts[keep], values[keep]
        a = a - a.mean(0)
        v = v - v.mean()
        denominator = np.sqrt((a * a).sum(0) * (v * v).sum())  # (U,)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j] = np.where(denominator > 0, (a * v[:, None]).sum(0) / denominator, np.nan)
    return out


@torch.no_grad()
def activations(subject, ids: torch.Tensor) -> list[np.ndarray]:
    """Per layer, the hidden units after each token of ids (N,): (N, H * directions)."""
    p = probe(subject.trained, subject.cfg.model, dtype=torch.float32)
    trace = unroll(p, p.inputs(ids.view(1, -1)))
    return [torch.cat([torch.stack(h)[:, 0] for h in layer], 1).cpu().numpy() for layer in trace.h]


def unit_names(layers: list[np.ndarray]) -> list[str]:
    return [f"{layer + 1}:{k}" for layer, a in enumerate(layers) for k in range(a.shape[1])]


def rank(names: list[str], r: np.ndarray, props: list[str]) -> list[dict]:
    """Units by their largest |r| with any property: [{unit, property, r}], best first."""
    if not props:
        return []
    strength = np.where(np.isnan(r), -1.0, np.abs(r))  # (U, P)
    best = strength.argmax(1)  # (U,)
    order = np.argsort(-strength.max(1), kind="stable")
    return [
        {"unit": names[u], "property": props[best[u]], "r": float(r[u, best[u]])}
        for u in order
        if strength[u, best[u]] >= 0
    ]


def write(out: Path, tokens: list[str], names, r, props, ranked, acts, title: str) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["unit", *props])
    for name, row in zip(names, r):
        writer.writerow([name, *("" if math.isnan(v) else f"{v:.4f}" for v in row)])
    write_atomic(out / "units.csv", text.getvalue())
    by_property = {
        p: [
            {"unit": names[u], "r": float(r[u, j])}
            for u in np.argsort(-np.nan_to_num(np.abs(r[:, j]), nan=-1.0))[:5]
        ]
        for j, p in enumerate(props)
    }
    summary = {
        "tokens": len(tokens),
        "properties": props,
        "top": ranked[:TOP],
        "by_property": by_property,
    }
    write_atomic(
        out / "units.json",
        dumps(summary, str(out / "units.json"), indent=1, ensure_ascii=False) + "\n",
    )
    heatmap(out / "units.png", tokens, names, acts, ranked, title)


def heatmap(path: Path, tokens, names, acts: np.ndarray, ranked: list[dict], title: str) -> None:
    """The top units (rows) over the passage's first tokens (columns), coloured -1..+1."""
    plt = pyplot()
    shown = [u["unit"] for u in ranked[:HEAT_UNITS]] or names[:HEAT_UNITS]
    cols = [names.index(u) for u in shown]
    n = min(HEAT_TOKENS, len(tokens))
    grid = acts[:n, cols].T  # (units, n)
    bound = max(1.0, float(np.abs(grid).max())) if grid.size else 1.0
    fig, ax = plt.subplots(figsize=(min(20, 3 + 0.24 * n), 1.6 + 0.45 * len(shown)), dpi=100)
    image = ax.imshow(grid, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.set_xticks(range(n))
    ax.set_xticklabels(
        [{" ": "␣", "\n": "⏎"}.get(c, c)[:3] for c in tokens[:n]], fontsize=10, family="monospace"
    )
    property_of = {u["unit"]: f"{u['property']} r={u['r']:+.2f}" for u in ranked}
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([f"{u}  {property_of.get(u, '')}" for u in shown], fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label="activation")
    ax.set_title(fitted_title(title, fig.get_figwidth(), 11), fontsize=11)
    save_png(fig, path)
