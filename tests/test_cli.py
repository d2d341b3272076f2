"""The command line end to end: train the tiny config, read its run folder, predict."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app

runner = CliRunner()


@pytest.fixture
def tiny_run(tiny_lm_run) -> Path:
    """The session's tiny language model (conftest.TINY_LM: hidden_size 8, 2 epochs)."""
    return tiny_lm_run


def test_run_folder_has_the_fixed_layout(tiny_run):
    for name in [
        "config.yaml",
        "vocab.json",
        "metrics.csv",
        "samples.txt",
        "summary.json",
        "checkpoints/last.pt",
        "checkpoints/best.pt",
        "plots/perplexity.png",
    ]:
        assert (tiny_run / name).is_file(), name
    assert "hidden_size: 8" in (tiny_run / "config.yaml").read_text()  # overrides resolved


def test_metrics_have_one_row_per_epoch(tiny_run):
    rows = list(csv.DictReader(open(tiny_run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["train_ppl"]) > 1 and float(r["val_ppl"]) > 1 for r in rows)
    assert all(float(r["tokens_per_s"]) > 0 for r in rows)


def test_summary_names_best_and_final(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs"] == 2
    assert summary["best"]["val_ppl"] <= summary["final"]["val_ppl"]
    assert summary["parameters"] > 0 and summary["versions"]["torch"] == torch.__version__


def test_checkpoint_is_plain_state_dicts_loadable_with_weights_only(tiny_run):
    ckpt = torch.load(tiny_run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and ckpt["config"]["model"]["hidden_size"] == 8
    assert "rnn.layer.weight_hh_l0" in ckpt["model"]
    assert isinstance(ckpt["optimizer"], dict)


def test_plot_is_a_png(tiny_run):
    assert (tiny_run / "plots" / "perplexity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_continues_the_prefix(tiny_run):
    result = runner.invoke(
        app, ["predict", "--run", str(tiny_run), "--prefix", "time traveller", "--num-chars", "12"]
    )
    assert result.exit_code == 0, result.output
    text = result.output.removesuffix("\n")  # the 12 characters may end in spaces
    assert text.startswith("time traveller") and len(text) == len("time traveller") + 12


def test_predict_greedy_is_repeatable_and_sampling_follows_the_seed(tiny_run):
    def predict(*extra):
        args = ["predict", "--run", str(tiny_run), "--prefix", "the", "-n", "30", *extra]
        return runner.invoke(app, args).output

    assert predict() == predict()
    assert predict("--temperature", "1", "--seed", "1") == predict(
        "--temperature", "1", "--seed", "1"
    )


def test_predict_names_unknown_characters(tiny_run):
    result = runner.invoke(app, ["predict", "--run", str(tiny_run), "--prefix", "Time 2 go!"])
    assert result.exit_code == 2
    assert "'T'" in result.output and "'2'" in result.output and "'!'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--num-chars", "-1"], "--num-chars must be >= 0"),
        (["--checkpoint", "middle"], "--checkpoint must be best or last"),
        (["--top-k", "0"], "--top-k must be >= 1"),
    ],
)
def test_predict_rejects_bad_options(tiny_run, args, message):
    result = runner.invoke(app, ["predict", "--run", str(tiny_run), "--prefix", "the", *args])
    assert result.exit_code == 2 and message in result.output


def test_predict_on_a_language_model_refuses_text_and_seq(tiny_run):
    for option in ("--text", "--seq"):
        result = runner.invoke(app, ["predict", "--run", str(tiny_run), option, "a film"])
        assert result.exit_code == 2 and "it is a language model; use --prefix" in result.output


def test_predict_from_a_folder_without_checkpoint(tiny_run, tmp_path):
    for name in ("config.yaml", "vocab.json"):
        (tmp_path / name).write_text((tiny_run / name).read_text())
    result = runner.invoke(app, ["predict", "--run", str(tmp_path), "--prefix", "the"])
    assert result.exit_code == 2 and "no checkpoint at" in result.output


def test_train_with_a_bad_key_exits_2_with_one_line(tiny_config, tmp_path):
    result = runner.invoke(
        app, ["train", str(tiny_config), "model.hiden=3", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "did you mean 'model.hidden_size'" in result.output
    assert list(tmp_path.iterdir()) == []  # no run folder for a config error


def test_help_does_not_import_torch():
    code = (
        "import sys\nfrom rnnlab.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "train" in out.stdout and "predict" in out.stdout


def test_every_command_help_starts_with_a_one_line_summary_and_is_not_hard_wrapped():
    import typer.main

    def commands(group, path=""):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from commands(command, f"{path}{name} ")
            else:
                yield f"{path}{name}", command

    found = dict(commands(typer.main.get_command(app)))
    assert {"train", "predict", "sweep", "export", "config keys"} <= set(found)
    for name, command in found.items():
        summary, *rest = command.help.split("\n\n")
        assert "\n" not in summary and summary.endswith(".") and len(summary) <= 90, name
        assert all("\n" not in paragraph for paragraph in rest), name  # the terminal wraps
