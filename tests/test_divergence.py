"""Numerical faults (docs/reliability.md): a nan or inf loss stops the run with one line
naming the epoch and step (train.on_nan: stop), keeping best.pt, or its steps are skipped
(train.on_nan: skip) and counted in summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run, load_checkpoint
from rnnlab.runs.progress import Reporter
from rnnlab.tasks import LanguageModelTask
from rnnlab.training.nanguard import Diverged
from rnnlab.training.session import train

REPO = Path(__file__).resolve().parents[1]
TINY = ["data.max_tokens=1200", "train.epochs=2"]  # 24 steps an epoch
runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def nan_at_steps(monkeypatch):
    """Make the language model's loss nan at the given (1-based) training steps."""

    def inject(steps: set[int]) -> None:
        loss, calls = LanguageModelTask.loss, [0]

        def faulty(self, model, batch):
            result = loss(self, model, batch)
            calls[0] += 1
            return result._replace(loss=result.loss * float("nan")) if calls[0] in steps else result

        monkeypatch.setattr(LanguageModelTask, "loss", faulty)

    return inject


def tiny(tmp_path: Path, *overrides: str) -> Path:
    cfg = load_config(REPO / "configs" / "tiny.yaml", [*TINY, *overrides])
    train(cfg, tmp_path, Reporter(quiet=True), run_dir=tmp_path / "run")
    return tmp_path / "run"


def test_a_huge_learning_rate_stops_with_the_epoch_step_and_advice(tiny_config, tmp_path):
    args = ["model.cell=rnn", "model.nonlinearity=relu", "optim.lr=1e30", *TINY]
    result = runner.invoke(
        app, ["train", str(tiny_config), *args, "--run-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "Traceback" not in result.output
    assert "became non-finite (nan or inf) at epoch 1, step" in error[0]
    assert "optim.lr (now 1e+30)" in error[0] and "optim.clip" in error[0]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["reason"] in error[0]
    assert summary["diverged_at"]["epoch"] == 1


def test_divergence_names_the_first_bad_step_and_keeps_best(tmp_path, nan_at_steps):
    nan_at_steps({30, 31})  # epoch 2
    with pytest.raises(Diverged, match="at epoch 2, step 30;") as err:
        tiny(tmp_path)
    assert (err.value.epoch, err.value.step) == (2, 30)
    run = Run(tmp_path / "run")
    best = load_checkpoint(run.checkpoint_path("best"))
    assert best["epoch"] == 1 and all(torch.isfinite(w).all() for w in best["model"].values())
    last = load_checkpoint(run.checkpoint_path("last"))
    assert last["epoch"] == 1  # the nan weights of epoch 2 were never saved
    assert [row["epoch"] for row in run.read_metrics()] == [1]
    assert run.read_summary()["status"] == "diverged"


def test_on_nan_skip_leaves_out_the_bad_steps_and_counts_them(tmp_path, nan_at_steps):
    nan_at_steps({3, 7, 30})
    run = Run(tiny(tmp_path, "train.on_nan=skip", "optim.clip=null"))
    summary = run.read_summary()
    assert summary["status"] == "finished" and summary["skipped_steps"] == 3
    weights = load_checkpoint(run.checkpoint_path("last"))["model"].values()
    assert all(torch.isfinite(w).all() for w in weights)
    assert all(row["train_loss"] == row["train_loss"] for row in run.read_metrics())  # no nan


def test_on_nan_takes_only_stop_or_skip(tiny_config):
    with pytest.raises(RnnlabError, match="train.on_nan"):
        load_config(tiny_config, ["train.on_nan=ignore"])
