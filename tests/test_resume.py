"""Interruptions (docs/reliability.md): SIGINT and SIGTERM stop a run cleanly after the
current step, `rnnlab train --resume` goes on exactly where it stopped (the same losses and
weights, bit for bit, on CPU), and a run killed with SIGKILL at any moment can be resumed.

Runs are interrupted through the real signal path: `RNNLAB_STOP_AFTER_STEPS=N` makes the
loop send SIGINT to its own process right after step N (rnnlab/training/interrupt.py); the SIGTERM
and SIGKILL tests signal a training subprocess from outside.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import wait_until
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run, load_checkpoint
from rnnlab.runs.progress import Reporter
from rnnlab.training.interrupt import STOP_AFTER_STEPS_ENV, Interrupted
from rnnlab.training.resume import resume
from rnnlab.training.session import train

REPO = Path(__file__).resolve().parents[1]
TIMING = {"tokens_per_s", "train_s"}  # wall-clock columns: the only ones allowed to differ
# the tiny language model, with dropout so the global torch generator matters too
LM = ["data.max_tokens=1200", "train.epochs=2", "model.num_layers=2", "model.dropout=0.3"]
# tiny_digitsum, 10 steps an epoch, evaluating every 4 steps (a window spans epochs)
CLASSIFIER = ["train.epochs=2", "data.batch_size=32", "train.eval_every_steps=4"]
runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_thread")


def run(config: str, overrides: list[str], out: Path, stop_after: int | None = None) -> Path:
    """Train in this process; with `stop_after`, SIGINT after that step. The run folder."""
    cfg = load_config(REPO / "configs" / config, overrides)
    folder = out / "run"
    os.environ[STOP_AFTER_STEPS_ENV] = str(stop_after or "")
    try:
        train(cfg, out, Reporter(quiet=True), run_dir=folder)
        assert stop_after is None, "the run was not interrupted"
    except Interrupted as stop:
        assert stop_after is not None and stop.exit_code == 130
    finally:
        os.environ.pop(STOP_AFTER_STEPS_ENV)
    return folder


def losses(run_dir: Path) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in TIMING} for row in Run(run_dir).read_metrics()
    ]


def assert_same_run(resumed: Path, whole: Path) -> None:
    assert losses(resumed) == losses(whole)
    for which in ("last", "best"):
        a, b = (load_checkpoint(d / "checkpoints" / f"{which}.pt") for d in (resumed, whole))
        assert a["model"].keys() == b["model"].keys()
        for key in a["model"]:
            assert torch.equal(a["model"][key], b["model"][key]), f"{which}.pt {key}"
    assert Run(resumed).read_summary()["status"] == "finished"


@pytest.fixture(scope="module")
def whole_lm(tmp_path_factory) -> Path:
    return run("tiny.yaml", LM, tmp_path_factory.mktemp("whole_lm"))


@pytest.fixture(scope="module")
def whole_classifier(tmp_path_factory) -> Path:
    return run("tiny_digitsum.yaml", CLASSIFIER, tmp_path_factory.mktemp("whole_cls"))


@pytest.mark.parametrize("where", ["mid_epoch", "epoch_end"])
def test_language_model_resumes_exactly(whole_lm, tmp_path, where):
    per_epoch = Run(whole_lm).read_metrics()[0]["step"]
    stop_after = per_epoch + 7 if where == "mid_epoch" else per_epoch
    folder = run("tiny.yaml", LM, tmp_path, stop_after)
    summary = Run(folder).read_summary()
    assert summary["status"] == "interrupted" and summary["at"]["step"] == stop_after
    assert load_checkpoint(folder / "checkpoints" / "last.pt")["step"] == stop_after
    resume(folder, [], Reporter(quiet=True))
    assert_same_run(folder, whole_lm)
    assert (folder / "samples.txt").read_text() == (whole_lm / "samples.txt").read_text()


@pytest.mark.parametrize("stop_after", [10, 14])  # the first epoch's end; mid-epoch, mid-window
def test_classifier_resumes_exactly(whole_classifier, tmp_path, stop_after):
    folder = run("tiny_digitsum.yaml", CLASSIFIER, tmp_path, stop_after)
    assert len(losses(folder)) == stop_after // 4
    resume(folder, [], Reporter(quiet=True))
    assert_same_run(folder, whole_classifier)
    assert Run(folder).read_summary()["test"] == Run(whole_classifier).read_summary()["test"]


def test_a_finished_run_extended_matches_the_longer_run(whole_lm, tmp_path):
    folder = run("tiny.yaml", [*LM[:1], "train.epochs=1", *LM[2:]], tmp_path)
    resume(folder, ["train.epochs=2"], Reporter(quiet=True))
    assert_same_run(folder, whole_lm)
    assert load_config(folder / "config.yaml").train.epochs == 2


def test_resume_refuses_what_cannot_be_resumed(whole_lm, tmp_path):
    with pytest.raises(RnnlabError, match="already finished its 2 epochs.*train.epochs=4"):
        resume(whole_lm, [], Reporter(quiet=True))
    with pytest.raises(RnnlabError, match="cannot change model.hidden_size=8.*same run"):
        resume(whole_lm, ["train.epochs=3", "model.hidden_size=8"], Reporter(quiet=True))
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.yaml").write_text((whole_lm / "config.yaml").read_text())
    with pytest.raises(RnnlabError, match="no checkpoints/last.pt"):
        resume(bare, [], Reporter(quiet=True))
    with pytest.raises(RnnlabError, match="run folder not found"):
        resume(tmp_path / "nowhere", [], Reporter(quiet=True))


def test_resume_errors_on_the_command_line_are_one_line(whole_lm, tiny_config):
    for args, message in [
        (["--resume", str(whole_lm)], "already finished"),
        (["--resume", str(whole_lm), str(tiny_config)], "KEY=VALUE overrides only"),
        (["--resume", str(whole_lm), "optim.lr=0.5"], "cannot change optim.lr=0.5"),
    ]:
        result = runner.invoke(app, ["train", *args])
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1


def cli(args: list[str], **env: str) -> subprocess.Popen:
    """`python -m rnnlab ARGS` in a subprocess (signals reach the CLI as a user's would)."""
    return subprocess.Popen(
        [sys.executable, "-m", "rnnlab", *args],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_on_the_command_line_saves_and_says_how_to_resume(tiny_config, tmp_path):
    folder = tmp_path / "run"
    args = ["train", str(tiny_config), *LM, "--run-dir", str(folder), "--quiet"]
    proc = cli(args, **{STOP_AFTER_STEPS_ENV: "5"})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        f"interrupted (SIGINT) after step 5 (epoch 1, batch 5), last.pt saved; "
        f"resume with: rnnlab train --resume {folder}"
    ]
    assert Run(folder).read_summary()["status"] == "interrupted"
    result = runner.invoke(app, ["train", "--resume", str(folder), "--quiet"])
    assert result.exit_code == 0, result.output
    assert Run(folder).read_summary()["status"] == "finished"


def test_sigterm_stops_with_exit_143(tiny_config, tmp_path):
    folder = tmp_path / "run"
    proc = cli(["train", str(tiny_config), "train.epochs=100", "--run-dir", str(folder)])
    wait_until((folder / "checkpoints" / "last.pt").exists, 120, "the first last.pt", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted (SIGTERM) after step")
    summary = Run(folder).read_summary()
    assert summary["status"] == "interrupted" and summary["at"]["step"] > 0
    assert load_checkpoint(folder / "checkpoints" / "last.pt")["step"] == summary["at"]["step"]


# When each kill may come: from Python's start, once the run folder exists, or once
# training has written its first last.pt (so that the resume branch is always taken)
KILLS = ["start", "config.yaml", "config.yaml", "config.yaml", "checkpoints/last.pt"]


def test_sigkill_at_any_moment_leaves_a_resumable_run(tiny_config, tmp_path):
    """kill -9 at random moments: last.pt is whole (or absent), and --resume finishes."""
    rng = random.Random(0)
    resumed = []
    for i, after in enumerate(KILLS):
        folder = tmp_path / f"run{i}"
        last = folder / "checkpoints" / "last.pt"
        proc = cli(["train", str(tiny_config), "train.epochs=50", "--run-dir", str(folder)])
        if after != "start":
            wait_until((folder / after).exists, 120, after, proc)
        time.sleep(rng.uniform(0.0, 2.0))
        proc.kill()
        proc.communicate()
        print(f"kill {i} (after {after}): {'last.pt' if last.exists() else 'no last.pt'}")
        if not last.exists():  # killed before the first checkpoint: a clear error
            assert after != "checkpoints/last.pt"
            with pytest.raises(
                RnnlabError, match="no checkpoints/last.pt|not an rnnlab run|run folder not found"
            ):
                resume(folder, [], Reporter(quiet=True))
            continue
        done = load_checkpoint(last)["epoch"]
        resume(folder, [f"train.epochs={done + 1}"], Reporter(quiet=True))
        assert Run(folder).read_summary()["status"] == "finished"
        assert len(Run(folder).read_metrics()) == done + 1
        resumed.append(i)
    assert KILLS.index("checkpoints/last.pt") in resumed  # the resume branch was taken
