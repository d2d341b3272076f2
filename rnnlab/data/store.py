"""rnnlab's data directory: find a dataset file there, or download it with its checksum.

The directory is `$RNNLAB_DATA_DIR`, else `$XDG_CACHE_HOME/rnnlab`, else `~/.cache/rnnlab`.
Downloads go to a temporary file that is checked and then renamed, so a dataset file in
the directory is always whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rnnlab.errors import RnnlabError


@dataclass(frozen=True)
class Resource:
    """A public file: its name in the data directory, its official address, its checksum."""

    filename: str
    url: str
    sha1: str | None = None
    sha256: str | None = None


def data_dir() -> Path:
    """The directory rnnlab reads datasets from and downloads them to."""
    if os.environ.get("RNNLAB_DATA_DIR"):
        return Path(os.environ["RNNLAB_DATA_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "rnnlab"


def resolve_data_path(path: str | Path) -> Path:
    """A `data.path`: `~` expanded; a relative path that does not exist from the current
    folder is looked up in the data directory (so `aclImdb_tiny.zip` finds the shared copy)."""
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists() or not (data_dir() / path).exists():
        return path
    return data_dir() / path


def fetch(resource: Resource, directory: Path | None = None, timeout: float = 30) -> Path:
    """The local path of `resource`: found in the data directory, or downloaded there."""
    directory = directory or data_dir()
    path = directory / resource.filename
    if path.is_file():
        _verify(resource, path, found=True)
        return path
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RnnlabError(f"cannot create data directory {directory}: {err.strerror}") from None
    _download(resource, path, timeout)
    return path


def _download(resource: Resource, path: Path, timeout: float) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(resource.url, timeout=timeout) as r:
            shutil.copyfileobj(r, out)
        _verify(resource, tmp, found=False)
        os.replace(tmp, path)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
        raise RnnlabError(
            f"could not download {resource.filename} from {resource.url} ({reason}); "
            f"download it by hand and put it at {path} (or set RNNLAB_DATA_DIR)"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def _verify(resource: Resource, path: Path, found: bool) -> None:
    for algorithm in ("sha256", "sha1"):
        expected = getattr(resource, algorithm)
        if expected is None:
            continue
        actual = file_digest(path, algorithm)
        if actual != expected:
            what = f"{path} does not match" if found else f"download of {resource.url} failed"
            raise RnnlabError(
                f"{what} its published {algorithm} (expected {expected}, got {actual}); "
                f"the file is corrupt or a different version: delete it and run again"
            )


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
