"""Shared fixtures. The data directory is `../shared/data` beside the repository when it
exists (the offline copies of the public data sets), unless RNNLAB_DATA_DIR is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if "RNNLAB_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["RNNLAB_DATA_DIR"] = str(SHARED_DATA)


@pytest.fixture
def tiny_config() -> Path:
    return REPO / "configs" / "tiny.yaml"


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config text to a file and return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
