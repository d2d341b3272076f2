"""PNG curves from metric rows (matplotlib, Agg: no display needed)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from rnnlab.runs.fileio import write_atomic


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path) -> None:
    """Lay `fig` out, write it to `path` as a PNG atomically, and close it."""
    plt = pyplot()
    with warnings.catch_warnings():  # a run name in a script the font lacks: boxes, no noise
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())


def plot_curves(
    path: Path,
    rows: list[dict],
    series: dict[str, str],
    ylabel: str,
    title: str,
    x: str = "epoch",
    logy: bool = False,
) -> None:
    """One line per metric column in `series` ({column: label}) against `x`."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for column, label in series.items():
        points = [(r[x], r[column]) for r in rows if r.get(column) not in (None, "")]
        if not points:
            continue
        xs, ys = zip(*points)
        marker = "o" if len(points) < 30 and len(points) < len(rows) else None
        ax.plot(xs, ys, label=label, marker=marker, markersize=3, linewidth=1.5)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        _log_axis(ax)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    save_png(fig, path)


def plot_lines(
    path: Path, x, series: dict, xlabel: str, ylabel: str, title: str, logy: bool = False
) -> None:
    """One line per entry of `series` ({label: y values}) against `x`; the legend goes
    beside the axes when there are many lines."""
    plt = pyplot()
    many = len(series) > 6
    fig, ax = plt.subplots(figsize=(9.6 if many else 6.4, 4.4), dpi=100)
    cmap = plt.get_cmap("tab20" if len(series) > 10 else "tab10")
    for i, (label, ys) in enumerate(series.items()):
        ax.plot(x, ys, label=label, linewidth=1.0, color=cmap(i % cmap.N))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    if many:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8)
    save_png(fig, path)


def _log_axis(ax) -> None:
    """A log y axis labelled in plain numbers (1, 2, 5, 10, 20...), not powers of ten."""
    import math

    from matplotlib.ticker import FuncFormatter

    def plain(value, _pos):
        return f"{value:g}"

    def twos_and_fives(value, _pos):
        low, high = ax.get_ylim()
        if low > 0 and high / low < 10:  # less than a decade: label every minor tick
            return f"{value:g}"
        lead = round(value / 10 ** math.floor(math.log10(value))) if value > 0 else 0
        return f"{value:g}" if lead in (2, 5) else ""

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(plain))
    ax.yaxis.set_minor_formatter(FuncFormatter(twos_and_fives))
