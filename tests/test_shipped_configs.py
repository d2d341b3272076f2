"""Every shipped config loads and passes the dataset's and the cell's checks, and every one says where it comes from and how to run it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rnnlab.config import load_config
from rnnlab.data import check_config
from rnnlab.models import check_model

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
REPORTED = CONFIG_DIR.parent / "docs" / "reported.yaml"  # the textbooks' figures, not a config
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))  # every file in configs/ is a config


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads_and_has_a_header(path):
    cfg = check_config(load_config(path))  # the schema and the dataset's keys
    check_model(cfg.model)  # a registered cell, with options it has
    header = path.read_text(encoding="utf-8").split("\nname:")[0]
    assert header.startswith("# ") and "Run:" in header
    assert f"rnnlab train configs/{path.name}" in header
    assert cfg.name == path.stem


def test_reported_figures_are_for_shipped_configs():
    reported = yaml.safe_load(REPORTED.read_text(encoding="utf-8"))
    assert set(reported) <= {p.stem for p in CONFIGS}, set(reported) - {p.stem for p in CONFIGS}
    for name, entry in reported.items():  # (more keys may follow, e.g. figures by epoch)
        assert isinstance(entry["source"], str) and entry["source"], name
        assert isinstance(entry["reported"], str) and entry["reported"], name


# The Jay Chou experiments: each one trains (two epochs, on a cut of the text
# so that the test takes seconds) and writes its metrics and its samples after both prefixes.
JAYCHOU_NEW = [
    "rnn_concise_jaychou",
    "gru_concise_jaychou",
    "lstm_concise_jaychou",
    "deep_lstm2_jaychou",
    "deep_lstm6_jaychou",
    "bigru_jaychou",
    "rnn_sequential_jaychou",
]


@pytest.mark.parametrize("name", JAYCHOU_NEW)
def test_jaychou_config_trains_two_epochs(name, tmp_path):
    import csv
    import math

    from rnnlab.runs.progress import Reporter
    from rnnlab.training.session import train

    path = CONFIGS[0].parent / f"{name}.yaml"
    cfg = load_config(
        path,
        ["train.epochs=2", "train.eval_every=1", "train.sample_every=2", "train.sample_len=4"]
        + ["data.max_tokens=1200"],  # one minibatch of 32 x 35 per epoch
    )
    assert cfg.train.prefixes == ["分开", "不分开"] and cfg.data.dataset == "jaychou"
    run = train(cfg, tmp_path, Reporter(quiet=True), run_dir=tmp_path / "run")
    with open(run.dir / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert all(math.isfinite(float(row["train_ppl"])) for row in rows)
    samples = (run.dir / "samples.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[1][:2] for line in samples] == ["分开", "不分"]
    if cfg.train.log_grad_norms:  # the deep stacks: one column per parameter of every layer
        header = (run.dir / "grad_norms.csv").read_text(encoding="utf-8").splitlines()[0]
        assert f"weight_hh_l{cfg.model.num_layers - 1}" in header
