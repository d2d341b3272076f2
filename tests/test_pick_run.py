"""Commands without a run folder take the newest run whose task fits their input, and say
which on stderr ("using run runs/...")."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnlab.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> dict[str, Path]:
    """runs/ with a language model, then (newer) a DigitSum classifier."""
    home = tmp_path_factory.mktemp("home")
    made = {}
    for name, config in (("lm", "tiny.yaml"), ("digits", "tiny_digitsum.yaml")):
        argv = ["train", str(REPO / "configs" / config), "train.epochs=1", "--quiet"]
        result = runner.invoke(app, [*argv, "--out", str(home / "runs")])
        assert result.exit_code == 0, result.output
        made[name] = Path(result.output.strip().splitlines()[-1])
        time.sleep(0.05)
    os.utime(made["digits"] / "config.yaml")  # the newest, whatever the clock's resolution
    return {"home": home, **made}


def _in(home: Path, argv: list[str], monkeypatch):
    monkeypatch.chdir(home)
    return runner.invoke(app, argv)


def test_predict_prefix_skips_a_newer_classifier(two_runs, monkeypatch):
    result = _in(two_runs["home"], ["predict", "--prefix", "time", "-n", "3"], monkeypatch)
    assert result.exit_code == 0, result.output
    assert f"using run runs/{two_runs['lm'].name}" in result.stderr
    assert two_runs["lm"].name not in result.stdout  # stdout keeps the prediction alone


def test_predict_seq_takes_the_digitsum_run(two_runs, monkeypatch):
    result = _in(two_runs["home"], ["predict", "--seq", "3 5 0"], monkeypatch)
    assert result.exit_code == 0, result.output
    assert f"using run runs/{two_runs['digits'].name}" in result.stderr


def test_predict_text_without_a_text_classifier_says_what_is_missing(two_runs, monkeypatch):
    result = _in(two_runs["home"], ["predict", "--text", "a film"], monkeypatch)
    assert result.exit_code == 2
    assert "no trained run under runs with a text classifier (for --text)" in result.stderr


def test_evaluate_and_inspect_without_a_run_say_which(two_runs, monkeypatch):
    result = _in(two_runs["home"], ["evaluate", "--split", "test"], monkeypatch)
    assert result.exit_code == 0, result.output
    assert f"using run runs/{two_runs['digits'].name}" in result.stderr
    dynamic = _in(two_runs["home"], ["evaluate", "--dynamic", "--segment", "50"], monkeypatch)
    assert dynamic.exit_code == 0, dynamic.output
    assert f"using run runs/{two_runs['lm'].name}" in dynamic.stderr
    unit = _in(two_runs["home"], ["inspect", "--unit", "1:0", "--out", "fig"], monkeypatch)
    assert unit.exit_code == 0, unit.output
    assert f"using run runs/{two_runs['lm'].name}" in unit.stderr
