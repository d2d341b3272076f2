"""compare and runs identify runs: unique legend labels, numbers sorted as numbers, sweeps
listed with their cells and status, a partial last epoch counted."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.runs import Run
from rnnlab.runs.compare import in_natural_order, labels, natural_key
from rnnlab.runs.listing import epochs_run

runner = CliRunner()


def fake_run(folder: Path, config: dict, summary: dict | None = None) -> Run:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    return Run(folder)


def test_labels_are_unique_when_some_configs_agree(tmp_path):
    runs = [
        fake_run(tmp_path / "a-1", {"name": "a", "model": {"cell": "gru"}}),
        fake_run(tmp_path / "a-2", {"name": "a", "model": {"cell": "gru"}}),
        fake_run(tmp_path / "b-1", {"name": "b", "model": {"cell": "lstm"}}),
    ]
    assert labels(runs) == ["cell=gru (a-1)", "cell=gru (a-2)", "cell=lstm"]


def test_numbers_sort_as_numbers(tmp_path):
    names = ["num_steps=35", "num_steps=5", "num_steps=10", "lr=1e-05", "lr=0.5"]
    assert sorted(names, key=natural_key) == [
        "lr=1e-05", "lr=0.5", "num_steps=5", "num_steps=10", "num_steps=35"
    ]  # fmt: skip
    runs = [fake_run(tmp_path / n, {"data": {"num_steps": int(n)}}) for n in ("35", "5", "10")]
    ordered, shown = in_natural_order(runs, labels(runs))
    assert shown == ["num_steps=5", "num_steps=10", "num_steps=35"]
    assert [r.dir.name for r in ordered] == ["5", "10", "35"]


def test_a_run_stopped_mid_epoch_counts_that_epoch():
    stopped = {"epochs": 0, "best": {"epoch": 1}, "final": {"epoch": 1, "step": 40}}
    assert epochs_run(stopped) == 1
    assert epochs_run({"epochs": 3, "best": {"epoch": 2}, "final": {"epoch": 3}}) == 3
    assert epochs_run({}) is None


def test_runs_lists_sweeps_with_their_cells_and_status(tmp_path):
    sweep = tmp_path / "sweeps" / "tiny-20260105-090000"
    sweep.mkdir(parents=True)
    asked = {"config": "c.yaml", "grid": {"model.cell": ["gru", "lstm"]}, "seeds": [0, 1]}
    (sweep / "sweep.yaml").write_text(yaml.safe_dump(asked))
    done = {"status": "finished", "key_metric": "val_ppl", "best": {"epoch": 1, "val_ppl": 9.5}}
    fake_run(sweep / "runs" / "cell=gru,seed=0", {"name": "x"}, done)
    fake_run(sweep / "runs" / "cell=gru,seed=1", {"name": "x"}, {**done, "status": "failed"})
    fake_run(tmp_path / "tiny-20260101-090000", {"name": "tiny"}, {**done, "epochs": 0})
    result = runner.invoke(app, ["runs", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if "tiny-20260105-090000/" in ln)
    assert "sweep 1/4 finished, 1 failed" in line and "val_ppl 9.5" in line
    rows = json.loads(runner.invoke(app, ["runs", str(tmp_path), "--json"]).stdout)
    assert [r["kind"] for r in rows] == ["sweep", "run"] and rows[0]["cells"] == 4
    assert rows[1]["epochs"] == 1 and rows[1]["best_epoch"] == 1  # not "epochs 0"
