"""stdout and stderr that never lose a run: what the stream's encoding cannot show is
escaped (`\\u5468`), and a closed pipe (`rnnlab train CFG | head -1`) drops the rest of the
output while the command goes on to the end: the run trains, checkpoints and writes its
summary.json as if nobody had stopped reading. Installed by `rnnlab/__main__.py`."""

from __future__ import annotations

import os
import sys


class GuardedStream:
    """A text stream whose writes survive a reader that went away (output dropped)."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        """Point the descriptor at /dev/null: later writes, and Python's own flush at
        exit, succeed and go nowhere."""
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def guard_streams() -> None:
    """Wrap sys.stdout and sys.stderr (once) so that encoding errors escape and broken
    pipes drop output instead of raising."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or isinstance(stream, GuardedStream):
            continue
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass
        setattr(sys, name, GuardedStream(stream))
