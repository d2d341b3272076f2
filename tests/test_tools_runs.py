"""`rnnlab runs`: every run folder under a folder as a row, newest first, with
its status, key metric and best epoch from summary.json; `--json` for scripts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnlab.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, tiny_lm_run, tiny_digitsum_run) -> Path:
    """The session's LM run and classifier run copied to known start times, a copy of the
    LM run marked interrupted, and a run with no summary yet (still running, or killed)."""
    out = tmp_path_factory.mktemp("runs")
    lm = out / "tiny-20260101-090000"
    shutil.copytree(tiny_lm_run, lm)
    shutil.copytree(tiny_digitsum_run, out / "tiny_digitsum-20260103-090000")
    stopped = out / "tiny-20260102-090000"
    shutil.copytree(lm, stopped)
    summary = json.loads((stopped / "summary.json").read_text())
    (stopped / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    running = out / "tiny-20260104-090000"
    shutil.copytree(lm, running)
    (running / "summary.json").unlink()
    (out / "not-a-run").mkdir()
    return out


def test_runs_json_lists_every_run_newest_first(runs_dir):
    result = runner.invoke(app, ["runs", str(runs_dir), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == [
        "tiny-20260104-090000",
        "tiny_digitsum-20260103-090000",
        "tiny-20260102-090000",
        "tiny-20260101-090000",
    ]
    running, cls, stopped, lm = rows
    summary = json.loads((runs_dir / lm["name"] / "summary.json").read_text())
    assert lm["status"] == "finished" and stopped["status"] == "interrupted"
    assert lm["key_metric"] == "val_ppl" and lm["best"] == summary["best"]["val_ppl"]
    assert lm["best_epoch"] == summary["best"]["epoch"] and lm["epochs"] == 2
    assert lm["wall_s"] == summary["wall_s"] and lm["started"] == "2026-01-01 09:00:00"
    assert cls["key_metric"] == "dev_acc" and 0 <= cls["best"] <= 1
    # no summary.json: the best is read from metrics.csv
    assert running["status"] == "running?" and running["key_metric"] == "val_ppl"
    assert running["best"] == lm["best"] and running["epochs"] == 2


def test_runs_table(runs_dir):
    result = runner.invoke(app, ["runs", str(runs_dir)])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stdout.splitlines() if "tiny" in ln]
    assert len(lines) == 4 and "tiny-20260104-090000" in lines[0]
    assert "interrupted" in lines[2] and "val_ppl" in lines[3] and "dev_acc" in lines[1]


def test_runs_of_an_empty_folder(tmp_path):
    result = runner.invoke(app, ["runs", str(tmp_path)])
    assert result.exit_code == 0 and f"no runs under {tmp_path}" in result.stdout
