"""Atomic writes: every file rnnlab writes goes to a temporary file in the same folder
and is renamed over the old one, so a kill at any moment leaves the old version whole.
And the one reader of a file the user named (`read_input`): a missing file or a folder
is a one-line `RnnlabError`."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from rnnlab.errors import RnnlabError

# a write that fails for one of these is the storage's fault, not rnnlab's: one line, exit 2
STORAGE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EDQUOT,
                  errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.EIO, errno.EFBIG,
                  errno.EMFILE, errno.EEXIST, errno.ENOENT, errno.ENXIO, errno.ELOOP,
                  errno.EBUSY, errno.ETXTBSY, errno.EINVAL}  # fmt: skip
# the causes in words where strerror's would mislead ("File exists" for a file in the way)
REASONS = {errno.EEXIST: "a file is in the way where a folder is needed",
           errno.ENOTDIR: "a part of the path is a file, not a folder",
           errno.ENOENT: "no such file or folder (or it cannot be created there)"}  # fmt: skip


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
    return StorageError(f"cannot write {shown(where)}: {reason(err)}", err)


def reason(err: OSError) -> str:
    """The cause of an OS error in a few words."""
    return REASONS.get(err.errno or 0) or err.strerror or os.strerror(err.errno or 0)


def shown(path) -> str:
    """A path as the user typed it: bytes decoded as the file system encodes names."""
    return os.fsdecode(bytes(path)) if isinstance(path, (bytes, bytearray)) else str(path)


def file_error(err: BaseException) -> RnnlabError | None:
    """The one line for any file error that reaches the CLI boundary (an OSError from a
    read, write or folder made anywhere, or an SQLite error): the path and the cause;
    None for what is not a file error (a broken pipe is the streams' business)."""
    import sqlite3

    if isinstance(err, RnnlabError):
        return err
    if isinstance(err, sqlite3.Error):
        return RnnlabError(f"the study database failed: {err}")
    if not isinstance(err, OSError) or isinstance(err, BrokenPipeError) or err.errno is None:
        return None
    where = err.filename2 if err.errno == errno.EEXIST and err.filename2 else err.filename
    return RnnlabError(f"{shown(where) if where else 'a file'}: {reason(err)}")


def check_regular(path: Path, what: str = "file") -> None:
    """Refuse, before opening it, a path that is there but is not a regular file: a FIFO
    blocks its reader forever, a device never ends. One stat, which never blocks; a
    missing file passes (the caller says what that means)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise RnnlabError(f"{shown(path)}: {reason(err)}") from None
    if stat.S_ISDIR(mode):
        raise RnnlabError(f"{shown(path)} is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise RnnlabError(f"{shown(path)} is {kind}, not a regular {what}: replace it with a file")


def background_errors(args) -> None:
    """threading.excepthook: a background writer (TensorBoard's event thread, a plot) that
    fails prints one warning line, never a traceback; the command's own line says the rest."""
    import sys

    fault = file_error(args.exc_value) if args.exc_value is not None else None
    line = str(fault) if fault else f"{type(args.exc_value).__name__}: {args.exc_value}"
    try:
        sys.stderr.write(f"warning: a background writer failed: {line.splitlines()[0]}\n")
    except (OSError, ValueError, IndexError):
        pass


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
    check_regular(Path(path), what)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise RnnlabError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise RnnlabError(f"{path} is a folder, not a {what}") from None
