"""Shell completion: `rnnlab --install-completion` exists, and Tab completes
config paths and run folders through the shell protocol the installed script uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.cli.complete import complete_config, complete_run

REPO = Path(__file__).resolve().parents[1]


def make_tree(root: Path) -> None:
    (root / "configs").mkdir()
    (root / "configs" / "tiny.yaml").write_text("name: t\n")
    (root / "configs" / "notes.txt").write_text("")
    (root / "mine.yaml").write_text("name: m\n")
    for name in ("gru-20260101-000000", "lstm-20260102-000000"):
        (root / "runs" / name).mkdir(parents=True)
        (root / "runs" / name / "config.yaml").write_text("name: r\n")
    (root / "runs" / "sweeps" / "grid-20260103-000000").mkdir(parents=True)
    (root / "runs" / "sweeps" / "grid-20260103-000000" / "sweep.yaml").write_text("grid: {}\n")
    (root / "runs" / "junk").mkdir()


def test_completers(tmp_path, monkeypatch):
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert complete_config("") == ["mine.yaml", "configs/tiny.yaml", "configs/", "runs/"]
    assert complete_config("configs/t") == ["configs/tiny.yaml"]
    runs = complete_run("")
    assert "runs/gru-20260101-000000" in runs and "runs/sweeps/grid-20260103-000000" in runs
    assert "runs/junk" not in runs
    assert complete_run("runs/l") == ["runs/lstm-20260102-000000"]


def complete(tmp_path: Path, words: str) -> list[str]:
    """What bash gets on Tab after `words` (the protocol of the installed script)."""
    env = dict(os.environ, _RNNLAB_COMPLETE="complete_bash", COMP_WORDS=words,
               COMP_CWORD=str(len(words.split(" ")) - 1), PYTHONPATH=str(REPO))  # fmt: skip
    code = "from rnnlab.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_tab_completes_commands_configs_and_runs(tmp_path):
    make_tree(tmp_path)
    assert "export" in complete(tmp_path, "rnnlab ex")
    assert complete(tmp_path, "rnnlab train configs/ti") == ["configs/tiny.yaml"]
    assert complete(tmp_path, "rnnlab export runs/g") == ["runs/gru-20260101-000000"]
    assert complete(tmp_path, "rnnlab predict --run runs/l") == ["runs/lstm-20260102-000000"]
    assert complete(tmp_path, "rnnlab sweep --resume runs/sweeps/") == [
        "runs/sweeps/grid-20260103-000000"
    ]


def test_install_completion_is_offered():
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.output and "--show-completion" in result.output
