"""Atomic writes: every file rnnlab writes goes to a temporary file in the same folder
and is renamed over the old one, so a kill at any moment leaves the old version whole.
And the one reader of a file the user named (`read_input`): a missing file or a folder
is a one-line `RnnlabError`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from rnnlab.errors import RnnlabError


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


def read_input(path: Path, what: str) -> bytes:
    """The bytes of the file at `path`; `what` ("CSV file") names it in the error when it
    is missing or a folder."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise RnnlabError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise RnnlabError(f"{path} is a folder, not a {what}") from None
