"""Every shipped config loads and passes the dataset's and the cell's checks, and every one says where it comes from and how to run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlab.config import load_config
from rnnlab.data import check_config
from rnnlab.models import check_model

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads_and_has_a_header(path):
    cfg = check_config(load_config(path))  # the schema and the dataset's keys
    check_model(cfg.model)  # a registered cell, with options it has
    header = path.read_text(encoding="utf-8").split("\nname:")[0]
    assert header.startswith("# ") and "Run:" in header
    assert f"rnnlab train configs/{path.name}" in header
    assert cfg.name == path.stem
