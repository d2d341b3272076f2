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


def fitted_title(text: str, width_in: float, fontsize: float) -> str:
    """`text` wrapped at spaces to fit a figure `width_in` inches wide (each line of a
    title is centred; a long one would be clipped at the edges)."""
    import textwrap

    chars = max(20, int(width_in * 72 / (fontsize * 0.6)))  # ~0.6 em per character
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


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
        sparse = len(points) < 30 and len(points) < len(rows)
        marker = "o" if len(points) <= 2 or sparse else None  # a single point must show
        ax.plot(xs, ys, label=label, marker=marker, markersize=3, linewidth=1.5)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs and steps: whole numbers
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
        marker = "o" if len(ys) <= 2 else None  # a single point must show
        ax.plot(
            x, ys, label=label, linewidth=1.0, color=cmap(i % cmap.N), marker=marker, markersize=3
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        _log_axis(ax)
    ax.grid(True, which="both", alpha=0.3)
    if many:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8)
    save_png(fig, path)


def _log_axis(ax) -> None:
    """A log y axis with plain-number labels: decades (1, 10, 100) by LogLocator, and
    when the data span under two decades the minor ticks too (2, 3, 5 ... or every one
    under a decade, LogFormatter's minor labels); a span too narrow to hold two such
    ticks gets evenly spaced plain ticks instead."""
    from matplotlib.ticker import LogFormatter, LogLocator, MaxNLocator, NullFormatter

    ax.set_yscale("log")
    ax.autoscale_view()
    low, high = ax.get_ylim()
    subs = [s for s in range(1, 10)]
    inside = [v * 10.0**e for e in range(-12, 13) for v in subs if low <= v * 10.0**e <= high]
    if len(inside) < 3:  # under a factor of ~1.5: no two log ticks fit, so plain ones
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
        ax.yaxis.set_minor_formatter(NullFormatter())
        return
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=[float(s) for s in subs[1:]]))
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    # minor labels: every one under a decade, 2 and 5 under two decades (LogFormatter's rule)
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 1)))
