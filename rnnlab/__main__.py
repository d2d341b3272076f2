"""`python -m rnnlab` and the `rnnlab` console script (`rnnlab.__main__:main`).

Until a command takes them over (train and sweep stop cleanly), SIGINT, SIGTERM and
SIGHUP end the process at once and silently with exit code 128 + signal (Ctrl-C: 130),
imports included. Once the
command returns or fails, the same signals are ignored while Python shuts down, so a late
Ctrl-C never prints a traceback from an exit handler. stdout and stderr escape what their
encoding cannot show and survive a closed pipe (`rnnlab.cli.streams`)."""

import signal
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _quit(signum, frame):
    raise SystemExit(128 + signum)


def main() -> None:
    for sig in SIGNALS:
        signal.signal(sig, _quit)
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
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    main()
