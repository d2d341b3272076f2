"""Stopping cleanly on SIGINT (Ctrl-C), SIGTERM or SIGHUP, however many arrive.

One `StopGate` per command (`stop_signals()`, installed by `rnnlab train` and `rnnlab
sweep`) takes all three signals. The FIRST starts a stop; every later one is absorbed,
so a burst of signals never interrupts the stop itself (its checkpoint, its summary.json,
its one line). Where the first one lands decides how the stop goes:

- in the training loop (`StopSignals`, which turns raising off): the loop finishes the
  optimizer step, writes last.pt there and raises `Interrupted`;
- inside `shielded()` (summary.json, a run folder being set up): it is only recorded;
- anywhere else (data loading, testing the best checkpoint): `Interrupted` is raised at once.

The CLI turns `Interrupted` into one line (with the resume command when there is a run
folder) and exit code 128 + signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP).

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
from shlex import quote
from typing import Any

from rnnlab.errors import RnnlabError

STOP_AFTER_STEPS_ENV = "RNNLAB_STOP_AFTER_STEPS"
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NAMES: dict[int, str] = {
    signal.SIGINT: "SIGINT",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP",
}


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal; `exit_code` is 128 + the signal number. A
    KeyboardInterrupt, so `except Exception` never swallows it and libraries that expect
    Ctrl-C (Ray's waits) pass it on as they pass Ctrl-C on."""

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
        return f"interrupted ({name}){where}; resume with: rnnlab train --resume {quote(str(self.run_dir))}"


class StopGate:
    """The handler of SIGINT, SIGTERM and SIGHUP for one command: the first signal starts
    a stop (`signum`; raised as `Interrupted` while `raising`), later ones are absorbed."""

    def __init__(self):
        self.signum: int | None = None
        self.raising = True
        self.stop_after = stop_after_steps()
        self._old: dict[int, Any] = {}  # the handlers to put back

    def handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            return  # a stop is under way: absorbed, never a second exception
        self.signum = signum
        if self.raising:
            raise Interrupted(signum)

    def stopped_by(self, err: KeyboardInterrupt) -> Interrupted:
        """The stop `err` starts (a plain KeyboardInterrupt is SIGINT's); from now on the
        gate absorbs every signal, so the command's one line is printed whole."""
        stop = err if isinstance(err, Interrupted) else Interrupted(signal.SIGINT)
        if self.signum is None:
            self.signum = stop.signum
        return stop

    def install(self) -> bool:
        """Take the signals (main thread only: elsewhere Python cannot); False if not."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in SIGNALS:  # one at a time: uninstall puts back whatever was taken
            self._old[sig] = signal.signal(sig, self.handle)
        return True

    def uninstall(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}


def current_gate() -> StopGate | None:
    """The gate whose handler is installed now, if any."""
    handler = signal.getsignal(signal.SIGINT)
    owner = getattr(handler, "__self__", None)
    return owner if isinstance(owner, StopGate) else None


@contextmanager
def stop_signals():
    """A command's gate for SIGINT, SIGTERM and SIGHUP; the old handlers come back after."""
    gate = StopGate()
    try:
        gate.install()
        yield gate
    finally:
        gate.uninstall()


@contextmanager
def shielded():
    """Within it a first signal is recorded but not raised (writing summary.json, setting a
    run folder up): the work finishes whole; what follows sees `gate.signum`."""
    gate = current_gate()
    if gate is None:
        yield
        return
    was, gate.raising = gate.raising, False
    try:
        yield
    finally:
        gate.raising = was


class StopSignals:
    """The training loop's view of the gate: `requested(step)` is true once a signal came
    (the loop then saves last.pt and stops). Without a command's gate it installs its own
    for the loop's duration; outside the main thread it does nothing."""

    def __init__(self):
        self.stop_after = stop_after_steps()
        self._gate: StopGate | None = None
        self._own = False
        self._was = True

    @property
    def signum(self) -> int | None:
        return self._gate.signum if self._gate else None

    def __enter__(self) -> StopSignals:
        self._gate = current_gate()
        if self._gate is None:
            gate = StopGate()
            self._own = gate.install()
            self._gate = gate if self._own else None
        if self._gate is not None:
            self._was, self._gate.raising = self._gate.raising, False
        return self

    def __exit__(self, *exc) -> None:
        if self._gate is not None:
            self._gate.raising = self._was
            if self._own:
                self._gate.uninstall()

    def requested(self, step: int) -> bool:
        """Whether to stop after optimizer step `step` (fires the test hook first)."""
        if self.stop_after is not None and step == self.stop_after and self._gate is not None:
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
