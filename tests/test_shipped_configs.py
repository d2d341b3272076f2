"""Every shipped config loads, and every one says where it comes from and how to run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlab.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads_and_has_a_header(path):
    cfg = load_config(path)
    header = path.read_text(encoding="utf-8").split("\nname:")[0]
    assert header.startswith("# ") and "Run:" in header
    assert f"rnnlab train configs/{path.name}" in header
    assert cfg.name == path.stem
