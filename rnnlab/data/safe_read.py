"""Reading data files and archive members with bounds, before the bytes are in memory.

- A data path must be a regular file (or, where a loader takes one, a folder): never a
  device (`/dev/zero` never ends), a FIFO (blocks forever) or a socket.
- No file or archive member is read past `max_data_bytes()`, and an archive's members
  together stay under it too: a member's declared size is checked first, then its actual
  inflated size while it is read in chunks (a zip may lie about the first).

The bound is `RNNLAB_MAX_DATA_BYTES` (bytes; default 2 GiB, fifteen times the
largest corpus rnnlab ships a loader for, the 130 MB of inflated IMDB reviews).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rnnlab.errors import RnnlabError

MAX_DATA_BYTES_ENV = "RNNLAB_MAX_DATA_BYTES"
DEFAULT_MAX_DATA_BYTES = 2 << 30
CHUNK = 1 << 20
# the peak memory of turning a text corpus into token ids, per byte of text (measured:
# tracemalloc, 3 MB: 11.5 for ASCII characters, 8.4 for words, 17.3 for Chinese characters;
# docs/reliability.md), with room to spare
LOAD_BYTES_PER_BYTE = 20


def max_data_bytes() -> int:
    text = os.environ.get(MAX_DATA_BYTES_ENV)
    if not text:
        return DEFAULT_MAX_DATA_BYTES
    try:
        value = int(float(text))
    except ValueError:
        raise RnnlabError(f"{MAX_DATA_BYTES_ENV} must be a number of bytes, got {text!r}") from None
    if value <= 0:
        raise RnnlabError(f"{MAX_DATA_BYTES_ENV} must be > 0, got {text!r}")
    return value


def available_memory() -> int | None:
    """MemAvailable (bytes) from /proc/meminfo; None where it cannot be told."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_free_memory(where: str, size: int) -> None:
    """Refuse a data file whose loading would not fit in free memory: a text corpus
    takes at most LOAD_BYTES_PER_BYTE bytes per byte while it becomes token ids
    (docs/reliability.md; tests/test_reliability.py measures it)."""
    free = available_memory()
    needed = size * LOAD_BYTES_PER_BYTE
    if free is not None and needed > free:
        raise RnnlabError(
            f"{where} is {size:,} bytes; loading it takes about {needed / 2**30:,.1f} GiB "
            f"({LOAD_BYTES_PER_BYTE} bytes per byte) and {free / 2**30:,.1f} GiB is free: "
            f"use a smaller file or data.max_tokens"
        )


def _too_big(where: str, size: int, limit: int, what: str = "") -> RnnlabError:
    return RnnlabError(
        f"{where} is {what}{size:,} bytes, over the {limit:,}-byte bound for data (refused "
        f"before reading it all); raise {MAX_DATA_BYTES_ENV} if it really is a corpus"
    )


def check_regular(path: Path) -> os.stat_result:
    """stat(path) for a regular file; FileNotFoundError / IsADirectoryError as open() would
    raise them (loaders already word those), RnnlabError for a device, FIFO or socket."""
    st = os.stat(path)  # FileNotFoundError passes through
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise RnnlabError(
            f"{path} is not a regular file (a device, a pipe or a socket): give a data file"
        )
    return st


def read_bytes(path: Path) -> bytes:
    """A regular file's bytes, at most max_data_bytes(), and only when the memory
    loading them takes (`LOAD_BYTES_PER_BYTE`) is free."""
    limit = max_data_bytes()
    st = check_regular(Path(path))
    if st.st_size > limit:
        raise _too_big(str(path), st.st_size, limit)
    check_free_memory(str(path), st.st_size)
    with open(path, "rb") as f:
        return _read_chunks(f, limit, str(path))


def _read_chunks(f, limit: int, where: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise _too_big(where, total, limit, "at least ")
        chunks.append(chunk)


class Budget:
    """What is left of max_data_bytes() for the members of one archive."""

    def __init__(self, archive: Path):
        self.archive, self.left = Path(archive), max_data_bytes()

    def _take(self, where: str, declared: int) -> int:
        if declared > self.left:
            raise _too_big(where, declared, self.left, "declared as ")
        return self.left

    def zip_member(self, zf, name: str) -> bytes:
        """A zip member's bytes (KeyError for a missing name, as ZipFile.read)."""
        where = f"{self.archive}: {name}"
        limit = self._take(where, zf.getinfo(name).file_size)
        with zf.open(name) as f:
            data = _read_chunks(f, limit, where)
        self.left -= len(data)
        return data

    def tar_member(self, tf, info) -> bytes:
        where = f"{self.archive}: {info.name}"
        limit = self._take(where, info.size)
        data = _read_chunks(tf.extractfile(info), limit, where)
        self.left -= len(data)
        return data


def read_input(path: Path, what: str) -> bytes:
    """The bytes of a file the user named (bounded, like `read_bytes`); `what` ("CSV file")
    names it in the one-line error when it is missing or a folder."""
    try:
        return read_bytes(Path(path))
    except FileNotFoundError:
        raise RnnlabError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise RnnlabError(f"{path} is a folder, not a {what}") from None
