"""Plug-ins: a cell and a schedule defined in a file outside rnnlab, used through the
config's `plugins:` list (or `--plugin`), train, resume, inspect and export with no
change to rnnlab; a plug-in's bad key or a failing import is one line, exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config.schedules import SCHEDULES
from rnnlab.models.cells import CELLS

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

PLUGIN = '''
"""A user's own cell and schedule, registered from outside rnnlab."""
import torch

from rnnlab.config.schedules import ScheduleSpec
from rnnlab.config.schedules import register as register_schedule
from rnnlab.config.variants import Key
from rnnlab.models.cells import CellSpec, register
from rnnlab.models.cells.base import StepCell
from rnnlab.training.callbacks.schedule import Schedule


class LeakyRNN(StepCell):
    """h_t = (1 - a) h_{t-1} + a tanh(W x_t + U h_{t-1} + b)."""

    def equations(self, gx_t, state, w_hh, b_hh):
        (h,) = state  # (B, H)
        a = self.cfg.options["leak"]
        u = h @ w_hh.t() + (b_hh if b_hh is not None else 0)  # (B, H)
        return ((1 - a) * h + a * torch.tanh(gx_t + u),), {}


class Halving(Schedule):
    """lr / 2 every `every` optimizer steps."""

    keys = {"every": Key(int, 5, "steps between halvings", gt=0)}

    def make(self, session):
        every = session.cfg.optim.options["every"]
        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda it: 0.5 ** (it // every))

    def on_step(self, s, state):
        super().on_step(s, state)
        self.scheduler.step()


register("leaky", CellSpec(1, LeakyRNN, keys={"leak": Key(float, 0.5, "the leak", gt=0, le=1)}))
register_schedule("halving", ScheduleSpec(Halving, keys=Halving.keys))
'''

CONFIG = """\
name: plug
plugins: [{module}]
data: {{dataset: timemachine, batch_size: 4, num_steps: 8, max_tokens: 1500}}
model: {{cell: leaky, impl: scratch, hidden_size: 8, options: {{leak: 0.7}}}}
optim: {{name: adam, lr: 0.01, schedule: halving, options: {{every: 3}}}}
train: {{epochs: 1, eval_every: 1, sample_every: 1, sample_len: 5, log_grad_flow: true}}
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A plug-in module written outside the package, importable by its name."""
    name = f"user_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    CELLS.remove("leaky")
    SCHEDULES.remove("halving")


def invoke(*argv: str):
    result = runner.invoke(app, [str(a) for a in argv])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout.strip().splitlines()


def test_a_plugin_cell_and_schedule_train_resume_inspect_and_export(tmp_path, plugin):
    config = tmp_path / "plug.yaml"
    config.write_text(CONFIG.format(module=plugin))
    run = Path(invoke("train", config, "--out", tmp_path / "runs", "--quiet")[-1])
    assert f"- {plugin}" in (run / "config.yaml").read_text()  # the run records it
    assert (run / "grad_flow.csv").exists()  # the probe runs the plug-in's equations
    import csv

    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert float(rows[-1]["lr"]) < 0.01  # halved by the plug-in's schedule
    invoke("train", "--resume", run, "train.epochs=2", "--quiet")
    assert len(list(csv.DictReader((run / "metrics.csv").open()))) == 2
    assert invoke("predict", "--run", run, "--prefix", "the", "-n", "3")[-1].startswith("the")
    invoke("evaluate", run)
    invoke("inspect", run, "--out", tmp_path / "inspect")
    assert (tmp_path / "inspect").is_dir()
    out = tmp_path / "model.pt"
    invoke("export", run, "--format", "torchscript", "--out", out)
    assert out.exists()


def bad(argv, expected: str, tmp_path: Path):
    result = runner.invoke(app, [str(a) for a in argv])
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_bad_key_of_a_plugin_is_one_line(tmp_path, plugin):
    config = tmp_path / "plug.yaml"
    config.write_text(CONFIG.format(module=plugin))
    train = ["train", config, "--out", tmp_path / "runs"]
    bad([*train, "optim.options={evry: 2}"], "unknown key 'optim.options.evry'", tmp_path)
    bad([*train, "model.options={leak: 2.0}"], "'model.options.leak' must be <= 1", tmp_path)


def test_a_plugin_given_on_the_command_line(tmp_path, plugin):
    config = tmp_path / "plug.yaml"
    config.write_text(CONFIG.format(module=plugin).replace(f"plugins: [{plugin}]\n", ""))
    bad(["train", config, "--out", tmp_path / "runs"], "'optim.schedule' must be one of", tmp_path)
    argv = ["train", config, "--plugin", plugin, "--out", tmp_path / "runs", "--quiet"]
    run = Path(invoke(*argv, "train.log_grad_flow=false")[-1])
    assert f"- {plugin}" in (run / "config.yaml").read_text()


def test_a_plugin_that_fails_to_import_is_one_line(tmp_path):
    (tmp_path / "broken_plugin.py").write_text("raise ValueError('no luck')\n")
    config = tmp_path / "c.yaml"
    config.write_text((REPO / "configs" / "tiny.yaml").read_text())
    sys.path.insert(0, str(tmp_path))
    try:
        argv = ["train", config, "--plugin", "broken_plugin", "--out", tmp_path / "runs"]
        bad(argv, "plugin 'broken_plugin' failed to import: ValueError: no luck", tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("broken_plugin", None)
