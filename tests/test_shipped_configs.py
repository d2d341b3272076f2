"""Every shipped config loads and passes the dataset's and the cell's checks, and every one says where it comes from and how to run it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rnnlab.config import load_config
from rnnlab.data import check_config
from rnnlab.models import check_model

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
REPORTED = CONFIG_DIR / "reported.yaml"
# (reported*.yaml hold the textbooks' figures, not configs)
CONFIGS = sorted(p for p in CONFIG_DIR.glob("*.yaml") if not p.name.startswith("reported"))


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
