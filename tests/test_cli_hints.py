"""A CLI that guides: flags shown as flags, config keys suggested for options that are
config keys, and configs/ holding configs only."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.cli.hints import option_as_key, value_after_flag

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_help_shows_boolean_flags_without_a_value_type():
    for command in (["evaluate"], ["train"], ["predict"], ["inspect"]):
        result = runner.invoke(app, [*command, "--help"], terminal_width=200)
        assert result.exit_code == 0
        assert "<bool>" not in result.output, command
    assert "--dynamic" in runner.invoke(app, ["evaluate", "--help"]).output


def test_option_named_like_a_config_key_suggests_the_override():
    assert option_as_key("--epochs", ["train", "c.yaml", "--epochs", "5"]).startswith(
        "did you mean train.epochs=5?"
    )
    assert "model.hidden_size=64" in option_as_key("--hidden-size", ["--hidden-size=64"])
    assert "optim.lr=VALUE" in option_as_key("--lr", ["--lr"])
    assert option_as_key("--bogus", ["--bogus"]) is None
    assert "data.batch_size=8" in option_as_key("--data.batch_size", ["--data.batch_size", "8"])


def test_value_after_a_flag_is_explained():
    flags = {"--dynamic", "--quiet"}
    assert value_after_flag(["evaluate", "r", "--dynamic", "True"], flags).startswith("--dynamic")
    assert value_after_flag(["evaluate", "r", "--split", "true"], flags) is None


def test_every_yaml_in_configs_is_a_config():
    for path in sorted((REPO / "configs").glob("*.y*ml")):
        raw = yaml.safe_load(path.read_text("utf-8"))
        assert isinstance(raw, dict) and {"data", "model", "train"} & set(raw), path.name
    assert (REPO / "docs" / "reported.yaml").is_file()
