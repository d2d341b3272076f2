"""One writer per run folder and per sweep folder: an advisory lock (`fcntl.flock`) on
the folder, held for as long as the writing process lives and released by the
operating system when it ends, however it ends (exit, crash, SIGKILL).

Writers (`rnnlab train`, `train --resume`, `sweep`, `sweep --resume`) take it; a second
writer fails at once with one line naming the PID that holds it (from `.lock`, which the
holder writes and removes). Readers (`predict`, `compare`) take none. A `.lock` left by a
killed process is harmless: only the kernel's lock counts, never the file. Where `fcntl`
is missing (Windows) there is no lock.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path

from rnnlab.errors import RnnlabError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]  # no folder lock without POSIX fcntl

LOCK_NAME = ".lock"


class FolderLock:
    """The lock of one folder; `acquire` raises RnnlabError when another process holds it.

    The lock is taken on the folder itself (a directory can be flocked), so refusing or
    probing writes nothing; the holder then writes its PID to `.lock` for the message a
    second writer gets, and removes it on release."""

    def __init__(self, folder: Path, what: str = "run folder"):
        self.folder, self.what = Path(folder), what
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        if fcntl is None or self._fd is not None:
            return self
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RnnlabError(self._busy_message()) from None
            raise
        self._fd = fd
        try:
            self.path.write_text(f"{os.getpid()}\n")
        except OSError:
            pass  # a read-only folder: the lock holds, only the PID goes unsaid
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def _busy_message(self) -> str:
        pid = holder(self.folder)
        who = f"process {pid}" if pid else "another process"
        return (
            f"{self.folder} is in use: {who} is writing this {self.what}; wait for it to "
            f"end or stop it first"
        )


def holder(folder: Path) -> int | None:
    """The PID written in `folder`'s lock file, or None."""
    try:
        text = (Path(folder) / LOCK_NAME).read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def is_locked(folder: Path) -> bool:
    """Whether a live process holds `folder`'s lock (probes without keeping it)."""
    if fcntl is None or not Path(folder).is_dir():
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


@contextmanager
def locked(folder: Path, what: str = "run folder"):
    """Hold `folder`'s lock within the block (and at most until the process ends)."""
    lock = FolderLock(folder, what).acquire()
    try:
        yield lock
    finally:
        lock.release()
