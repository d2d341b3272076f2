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


SHARED = Path(os.environ.get("RNNLAB_DATA_DIR", SHARED_DATA))


@pytest.fixture(scope="session", autouse=True)
def writable_data_dir(tmp_path_factory):
    """Tests never write into the shared data directory (its read-only mode does not stop
    root): caches and generated data go to a session folder that links the shared files."""
    path = tmp_path_factory.mktemp("data_dir")
    if SHARED.is_dir():
        for item in SHARED.iterdir():
            if item.is_file():  # the data files only: not a cache folder left there earlier
                (path / item.name).symlink_to(item)
    os.environ["RNNLAB_DATA_DIR"] = str(path)
    yield path
    os.environ["RNNLAB_DATA_DIR"] = str(SHARED)


@pytest.fixture
def shared_data() -> Path:
    """The data directory with the real data sets (and the IMDB fixture): read it only."""
    return SHARED


@pytest.fixture
def fresh_data_dir(tmp_path, monkeypatch) -> Path:
    """An empty, writable data directory for data generated or cached on first use."""
    path = tmp_path / "data_dir"
    path.mkdir()
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(path))
    return path
