"""Atomic writes: every file rnnlab writes goes to a temporary file in the same folder
and is renamed over the old one, so a kill at any moment leaves the old version whole.
And the one reader of a file the user named (`read_input`): a missing file or a folder
is a one-line `RnnlabError`."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from rnnlab.errors import RnnlabError

# a write that fails for one of these is the storage's fault, not rnnlab's: one line, exit 2
STORAGE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EDQUOT,
                  errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.EIO, errno.EFBIG,
                  errno.EMFILE}  # fmt: skip


class StorageError(RnnlabError, OSError):
    """A write failed for the storage's reason (read-only, full, no permission, name too
    long): one line naming the path and the cause. Also an OSError with the original
    errno, strerror and filename, so code that handles OSError still does."""

    def __init__(self, message: str, err: OSError | None = None):
        RnnlabError.__init__(self, message)
        if err is not None:
            self.errno, self.strerror, self.filename = err.errno, err.strerror, err.filename

    def __str__(self) -> str:  # the one line, not OSError's "[Errno N] ..."
        return str(self.args[0])


def storage_error(err: OSError, path) -> StorageError | None:
    """The StorageError for `err`, or None when it is not a storage fault."""
    if err.errno not in STORAGE_ERRNOS:
        return None
    where = err.filename if err.filename and err.errno != errno.ENAMETOOLONG else path
    return StorageError(f"cannot write {where}: {err.strerror or os.strerror(err.errno)}", err)


def write_atomic(path: Path, data: str | bytes) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    write_with(path, lambda f: f.write(raw))


def write_with(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(file)` on a temporary file, then rename it to `path`. (No fsync: this
    guards against a killed process, not against a power cut.)"""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise storage_error(err, path) or err from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        fault = storage_error(err, path) if isinstance(err, OSError) else None
        if fault is not None:
            raise fault from None
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
