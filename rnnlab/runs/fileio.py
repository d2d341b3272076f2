"""Atomic writes: every file rnnlab writes goes to a temporary file in the same folder
and is renamed over the old one, so a kill at any moment leaves the old version whole."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, data: str | bytes) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    write_with(path, lambda f: f.write(raw))


def write_with(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(file)` on a temporary file, then rename it to `path`. (No fsync: this
    guards against a killed process, not against a power cut.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
