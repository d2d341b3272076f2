"""`python -m rnnlab.sweep.child PARENT_PID ARGS...`: become `python -m rnnlab ARGS...` in a
process that dies with its parent. A Ray worker starts each run this way, so a killed worker (or a lost
node's raylet taking its workers down) leaves no training process behind to write into a
run folder that the retry has set aside.

On Linux the kernel sends SIGKILL when the parent exits (PR_SET_PDEATHSIG); elsewhere the
run is an ordinary child. Ray blocks SIGINT in its processes and the block is inherited,
so it is lifted here: the worker stops a run with SIGINT, as Ctrl-C does for a local run.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(137)


def main(argv: list[str]) -> None:
    die_with_parent(int(argv[0]))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    for signum in (signal.SIGINT, signal.SIGTERM):  # exec keeps ignored signals ignored
        signal.signal(signum, signal.SIG_DFL)
    # the same process becomes `python -m rnnlab ARGS...`: the parent-death signal and the
    # unblocked mask survive exec, and the sweep layer never imports the CLI
    os.execv(sys.executable, [sys.executable, "-m", "rnnlab", *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])
