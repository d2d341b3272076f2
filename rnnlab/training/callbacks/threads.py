"""`threads: auto` while a run trains: every CHECK_S seconds of training, the cores the
rest of the machine keeps busy (every core's CPU time less this process's own, from
/proc/stat), and torch's intra-op threads set to the usable cores they leave (at least 1).
A run that started alone with 2 threads drops to 1 when a second training starts beside it
(OpenMP's threads would otherwise spin for a core the other job holds: 0.3x its idle speed
measured, docs/performance.md), and takes its cores back when the other job ends. Each
change is one line on stderr. CPU runs give the same numbers for any thread count
(tests/test_threads.py), so a change mid-run changes the speed only. Off for an explicit
`threads: N`, an OMP_NUM_THREADS in the environment (a sweep's workers), and other devices."""

from __future__ import annotations

import math
import os
import sys
import time

import torch

from rnnlab.cpus import others_busy, snapshot, usable_cores

from .base import CALLBACKS, Callback

CHECK_S = 5.0  # seconds of training between two looks at the machine


class AdaptThreads(Callback):
    def __init__(self, cores: int):
        self.cores = cores  # the cores this process may use
        self.last = snapshot()
        self.changes = 0

    def on_train_start(self, s, state) -> None:
        self.last = snapshot()

    def on_step(self, s, state) -> None:
        if time.monotonic() - self.last.wall_s < CHECK_S:
            return
        now = snapshot()
        others = others_busy(self.last, now)
        self.last = now
        if others is None:
            return
        want = max(1, min(self.cores, math.floor(self.cores - others + 0.5)))
        if want != torch.get_num_threads():
            torch.set_num_threads(want)
            self.changes += 1
            print(
                f"threads: {want} (other work now keeps {others:.1f} of {self.cores} cores busy)",
                file=sys.stderr,
                flush=True,
            )


@CALLBACKS.register("threads")
def adapt_threads(session) -> Callback | None:
    if session.cfg.threads != "auto" or session.device.type != "cpu":
        return None
    if os.environ.get("OMP_NUM_THREADS", "").strip():  # the user's or a sweep's: it wins
        return None
    cores, _ = usable_cores()
    return AdaptThreads(cores) if cores > 1 else None
