"""Stopping a training run cleanly on SIGINT (Ctrl-C) or SIGTERM.

While the loop runs, `StopSignals` turns either signal into a request that the loop reads
after each optimizer step: it then writes last.pt (enough to resume exactly there) and
raises `Interrupted`, which the CLI turns into one line and exit code 128 + signal
(130 for SIGINT, 143 for SIGTERM). A second signal stops at once, without the checkpoint
(atomic writes keep the previous last.pt whole).

Test hook: `RNNLAB_STOP_AFTER_STEPS=N` makes the loop send SIGINT to its own process right
after optimizer step N, so tests interrupt at an exact step through the real signal path.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rnnlab.errors import RnnlabError

STOP_AFTER_STEPS_ENV = "RNNLAB_STOP_AFTER_STEPS"
SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES: dict[int, str] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class Interrupted(Exception):
    """Training stopped by a signal; `exit_code` is 128 + the signal number."""

    def __init__(self, signum: int, run_dir: Path | None = None, where: str = ""):
        self.signum, self.run_dir, self.where = signum, run_dir, where
        super().__init__(self.message())

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        name = NAMES.get(self.signum, f"signal {self.signum}")
        if self.run_dir is None:
            return f"interrupted ({name}) before training started"
        where = f" {self.where}" if self.where else ""
        return f"interrupted ({name}){where}; resume with: rnnlab train --resume {self.run_dir}"


class StopSignals:
    """Within `with StopSignals() as stop:` SIGINT and SIGTERM set `stop.signum` instead of
    killing the process; a second signal raises `Interrupted` at once. Outside the main
    thread (where Python cannot take signals) it does nothing."""

    def __init__(self):
        self.signum: int | None = None
        self.stop_after = stop_after_steps()
        self._old: dict[int, Any] = {}  # the handlers to put back

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # asked twice: stop now
            raise Interrupted(signum)
        self.signum = signum

    def requested(self, step: int) -> bool:
        """Whether to stop after optimizer step `step` (fires the test hook first)."""
        if self.stop_after is not None and step == self.stop_after and self._old:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # Python runs the handler at its next check: wait for it
                if self.signum is not None:
                    break
                time.sleep(0.001)
        return self.signum is not None


def stop_after_steps() -> int | None:
    text = os.environ.get(STOP_AFTER_STEPS_ENV)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise RnnlabError(f"{STOP_AFTER_STEPS_ENV} must be an integer, got {text!r}") from None


@contextmanager
def sigterm_interrupts():
    """Within it, SIGTERM stops the CLI like Ctrl-C (`Interrupted`) outside the loop."""

    def handle(signum, frame):
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
