"""Every run ends with a closing summary: status, best validation figure and its epoch, the
test figure, wall time (the final test's share too), tokens/s and the run folder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.runs.progress import closing_lines

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_a_classifier_run_closes_with_its_figures(tmp_path):
    argv = ["train", str(REPO / "configs" / "tiny_digitsum.yaml"), "train.epochs=1"]
    result = runner.invoke(app, [*argv, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run = Path(result.output.strip().splitlines()[-1])
    summary = json.loads((run / "summary.json").read_text())
    lines = result.output.strip().splitlines()
    assert "evaluating on test (best checkpoint) ..." in lines
    close = next(line for line in lines if line.startswith("summary: "))
    assert close.startswith("summary: finished  best dev_acc ")
    assert f"(epoch {summary['best']['epoch']})" in close
    assert f"test_acc {summary['test']['test_acc']:.4g}" in close
    assert f"wall {summary['wall_s']:.1f} s (test " in close and "k tok/s" in close
    assert 0 <= summary["test_s"] <= summary["wall_s"]
    assert lines[lines.index(close) + 1] == f"run folder: {run}"


def test_an_interrupted_run_without_figures_still_closes():
    lines = closing_lines({"status": "interrupted", "key_metric": "val_ppl", "best": {}}, "r")
    assert lines == ["summary: interrupted", "run folder: r"]
    lm = {"status": "finished", "key_metric": "val_ppl", "wall_s": 61.04,
          "best": {"epoch": 7, "val_ppl": 9.876}, "test": {"test_ppl": 9.5}, "tokens_per_s": 20500.0}  # fmt: skip
    assert closing_lines(lm, "r")[0] == (
        "summary: finished  best val_ppl 9.876 (epoch 7)  test_ppl 9.5  wall 61.0 s  20.5k tok/s"
    )


def test_quiet_prints_only_the_folder(tmp_path):
    argv = ["train", str(REPO / "configs" / "tiny.yaml"), "train.epochs=1", "--quiet"]
    result = runner.invoke(app, [*argv, "--out", str(tmp_path)])
    assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 1
