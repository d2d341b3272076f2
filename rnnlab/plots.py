"""PNG curves from metric rows (matplotlib, Agg: no display needed)."""

from __future__ import annotations

import io
from pathlib import Path

from rnnlab.fileio import write_atomic


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())


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
