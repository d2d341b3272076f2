"""`rnnlab config show` and `rnnlab config keys`: the resolved config as a run
saves it, every schema key with its meaning, and README's key table generated from them."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import typing
from pathlib import Path

import yaml
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import Config, load_config
from rnnlab.config.keys import config_keys, keys_markdown

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_show_prints_the_config_a_run_would_save(tiny_config, tmp_path):
    result = runner.invoke(app, ["config", "show", str(tiny_config), "model.cell=lstm"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["model"]["cell"] == "lstm"
    assert shown["model"]["impl"] == "builtin"  # a default the file does not set
    assert shown["optim"]["momentum"] == 0.0
    saved = tmp_path / "shown.yaml"
    saved.write_text(result.output)
    assert load_config(saved) == load_config(tiny_config, ["model.cell=lstm"])


def test_keys_cover_every_schema_field_with_a_meaning():
    keys = {k.key: k for k in config_keys()}
    leaves = []

    def walk(cls, prefix):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name], f"{prefix}{f.name}.")
            else:
                leaves.append(prefix + f.name)

    walk(Config, "")
    assert list(keys) == leaves
    assert all(k.meaning for k in keys.values()), [k.key for k in keys.values() if not k.meaning]
    batch = keys["data.batch_size"]
    assert (batch.type, batch.default, batch.range) == ("int", "32", "> 0")
    assert batch.meaning == "sequences per minibatch"
    # a comment block above the field, not beside it
    assert keys["train.on_nan"].meaning.startswith("a nan or inf loss: stop")
    assert keys["model.cell"].type == "str"  # a registered cell, checked against the registry
    assert "mgu" in keys["model.cell"].meaning
    assert keys["train.precision"].type == "32 | bf16 | 16-mixed | auto"
    assert keys["optim.clip"].type == "float | null"


def test_keys_as_json_and_markdown():
    result = runner.invoke(app, ["config", "keys", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert rows[0] == {"key": "name", "type": "str", "default": '"run"', "range": "",
                       "meaning": "run folder prefix: runs/<name>-<timestamp>/"}  # fmt: skip
    table = runner.invoke(app, ["config", "keys", "--markdown"]).output
    assert table.count("\n") == len(rows) + 2
    assert '| `device` | str | `"auto"` |  | auto (CUDA, then MPS, then CPU) \\| cpu' in table


def test_readme_key_table_is_the_generated_one():
    """README's table is exactly `rnnlab config keys --markdown`: regenerate it with
    `python scripts/readme_config_keys.py` after changing the schema."""
    sys.path.insert(0, str(REPO / "scripts"))
    from readme_config_keys import readme_with_table

    readme = (REPO / "README.md").read_text()
    assert readme_with_table(readme, keys_markdown(config_keys())) == readme


def test_config_commands_do_not_import_torch(tiny_config):
    for argv in (["config", "keys"], ["config", "show", str(tiny_config)]):
        code = (
            f"import sys\nfrom rnnlab.cli import main\nsys.argv = ['rnnlab', *{argv!r}]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True)
