"""`python -m rnnlab` and the `rnnlab` console script (`rnnlab.__main__:main`).

Until a command takes them over (train and sweep stop cleanly), SIGINT, SIGTERM and
SIGHUP end the process at once and silently with exit code 128 + signal (Ctrl-C: 130),
imports included. Once the
command returns or fails, the same signals are ignored while Python shuts down, so a late
Ctrl-C never prints a traceback from an exit handler. stdout and stderr escape what their
encoding cannot show and survive a closed pipe (`rnnlab.cli.streams`).

While torch itself is imported (whichever command imports it first), the three signals are
held and handled just after: an exception raised by a handler inside torch's C++ start-up
(`torch._C._c10d_init`) is thrown through pybind11 and ends the process in
`std::terminate` (SIGABRT, "terminate called after throwing an instance of
'pybind11::error_already_set'") instead of stopping it."""

import importlib.util
import os
import signal
import sys
import threading
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class HoldSignalsWhileTorchLoads:
    """A meta path finder for `torch` alone: it finds torch as the other finders do and
    runs its loader with SIGINT, SIGTERM and SIGHUP only recorded; the first one that came
    goes to its own handler once the module has run (a burst counts as one). Used once,
    then gone from sys.meta_path. (Blocking the signals would not do: one delivered to
    another thread still runs its Python handler in the main thread, inside the import.)"""

    @classmethod
    def install(cls) -> None:
        if cls not in sys.meta_path and "torch" not in sys.modules:
            sys.meta_path.insert(0, cls)  # type: ignore[arg-type]

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(cls)  # type: ignore[arg-type]
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_holding_signals(module) -> None:
            if threading.current_thread() is not threading.main_thread():
                return run_module(module)  # handlers run in the main thread, not in here
            came: list[int] = []
            handlers: dict[int, Any] = {}
            try:  # one at a time: a signal may land between two of these calls
                for sig in SIGNALS:
                    handlers[int(sig)] = signal.signal(sig, lambda signum, _: came.append(signum))
                run_module(module)
            finally:
                for num, handler in handlers.items():
                    signal.signal(num, handler)
            if came:
                deliver(came[0], handlers[came[0]])

        spec.loader.exec_module = exec_holding_signals  # type: ignore[method-assign]
        return spec


def deliver(signum: int, handler) -> None:
    """What the signal would have done under `handler`."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)


class QuitOnce:
    """The handler until a command takes the signals over: the first one ends the process
    silently with 128 + signal; later ones are absorbed, so a burst raises once."""

    def __init__(self):
        self.fired = False

    def __call__(self, signum, frame) -> None:
        if not self.fired:
            self.fired = True
            raise SystemExit(128 + signum)


def main() -> None:
    quit_once = QuitOnce()
    for sig in SIGNALS:
        signal.signal(sig, quit_once)
    HoldSignalsWhileTorchLoads.install()
    try:
        from rnnlab.cli import app
        from rnnlab.cli.streams import guard_streams
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    code: int | str | None = 0
    try:
        guard_streams()
        app(prog_name="rnnlab")  # a command may take the signals over (train, sweep)
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exit:
        code = exit.code
    finally:
        # The command is over: every signal from here on is ignored. Python resets a
        # handler still set at exit to SIG_DFL, and a late signal would kill the process
        # (exit -N) after its one line. `fired` first: an assignment, so no handler runs
        # before it; then SIG_IGN, retried, as signal.signal runs a pending handler first
        # and a command's gate may still owe one Interrupted. No call in between: a
        # function's entry is where a pending handler would run.
        quit_once.fired = True
        while True:
            try:
                for sig in SIGNALS:
                    signal.signal(sig, signal.SIG_IGN)
                break
            except BaseException:
                continue
    sys.exit(code)


if __name__ == "__main__":
    main()
