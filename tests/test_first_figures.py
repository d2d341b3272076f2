"""First figures early: a progress line every N steps of a long epoch, and plots a person
can read (single points drawn, labelled ticks on log axes, titles that fit)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.runs.plots import _log_axis, fitted_title, pyplot
from rnnlab.training.log_every import LogEvery, nice_steps

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


class Clock:
    def __init__(self, per_step: float):
        self.now, self.per_step = 0.0, per_step

    def __call__(self) -> float:
        return self.now


def run_steps(every: LogEvery, clock: Clock, steps: int) -> list[int]:
    due = []
    for step in range(1, steps + 1):
        clock.now += clock.per_step
        if every.due(step):
            due.append(step)
    return due


@pytest.mark.parametrize("per_step, interval", [(0.1, 200), (0.5, 50), (4.0, 10), (0.001, 20000)])
def test_auto_times_its_first_steps_and_logs_about_every_30_s(per_step, interval):
    clock = Clock(per_step)
    every = LogEvery("auto", 2_323, clock=clock)  # PTB's epoch at 20 x 20
    due = run_steps(every, clock, 1000)
    assert every.every == interval and due == [s for s in range(12, 1001) if s % interval == 0]


def test_short_epochs_fixed_and_off():
    assert run_steps(LogEvery("auto", 49, clock=Clock(1.0)), Clock(1.0), 200) == []
    assert run_steps(LogEvery(7, 49), Clock(1.0), 21) == [7, 14, 21]
    assert run_steps(LogEvery(None, 5_000), Clock(1.0), 100) == []
    assert [nice_steps(s) for s in (3, 10, 19, 20, 49, 50, 99, 100, 730)] == [
        10, 10, 10, 20, 20, 50, 50, 100, 500
    ]  # fmt: skip


def test_progress_lines_between_evaluations_leave_metrics_alone(tmp_path):
    argv = ["train", str(REPO / "configs" / "tiny.yaml"), "train.epochs=1"]
    result = runner.invoke(app, [*argv, "train.log_every_steps=20", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.endswith("(train, so far)")]
    assert [ln.split()[3] for ln in lines] == ["20", "40"] and "train_ppl" in lines[0]
    run = Path(result.output.strip().splitlines()[-1])
    assert [r["step"] for r in csv.DictReader(open(run / "metrics.csv"))] == ["49"]


def labels_shown(values: list[float]) -> list[str]:
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot(range(len(values)), values)
    _log_axis(ax)
    fig.canvas.draw()
    low, high = ax.get_ylim()
    ticks = [*ax.yaxis.get_major_ticks(), *ax.yaxis.get_minor_ticks()]
    shown = [t.label1.get_text() for t in ticks if low <= t.get_loc() <= high]
    plt.close(fig)
    return [s for s in shown if s]


@pytest.mark.parametrize(
    "values", [[3.31, 3.42], [5.0, 8.0, 13.0, 40.0], [8.0, 300.0], [2.0, 5000.0], [120.0]]
)
def test_every_log_axis_has_at_least_two_plain_labels(values):
    shown = labels_shown(values)
    assert len(shown) >= 2, shown
    assert all("^" not in s and "e" not in s for s in shown), shown  # plain numbers


def test_a_single_point_is_drawn_with_a_marker(tmp_path, monkeypatch):
    from rnnlab.runs import plots

    drawn = []
    monkeypatch.setattr(plots, "save_png", lambda fig, path: drawn.append(fig.axes[0]))
    plots.plot_curves(tmp_path / "p.png", [{"epoch": 1, "val_ppl": 12.0}], {"val_ppl": "v"}, "ppl", "t", logy=True)  # fmt: skip
    assert drawn[0].lines[0].get_marker() == "o"


def test_titles_wrap_to_the_figure():
    title = "a_rather_long_run_name-20261208-014204 (builtin gru on timemachine): gate saturation"
    lines = fitted_title(title, 5.8, 10).split("\n")
    assert len(lines) == 2 and max(map(len, lines)) <= 5.8 * 72 / 6
