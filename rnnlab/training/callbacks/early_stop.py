"""`train.early_stop: N`: end training cleanly after N evaluations in a row that did not
improve the task's key metric (val_ppl, val_acc); the run is `finished`, its
summary.json says why (`stop_reason`), and it is tested like any finished run."""

from __future__ import annotations

from .base import CALLBACKS, Callback


class EarlyStop(Callback):
    def __init__(self, patience: int, task):
        self.patience, self.task = patience, task
        self.best: float | None = None  # the best key metric seen
        self.bad = 0  # evaluations since it last improved

    def on_log_point(self, s, state, row: dict, evaluated: bool) -> None:
        if not evaluated:
            return
        value = row[self.task.key_metric]
        if self.task.is_better(value, self.best):
            self.best, self.bad = value, 0
        else:
            self.bad += 1

    def stop_reason(self) -> str | None:
        if self.bad < self.patience:
            return None
        return (
            f"early_stop: {self.task.key_metric} did not improve in {self.bad} evaluations "
            f"(best {self.best:.6g})"
        )

    def state_dict(self) -> dict:
        return {"best": self.best, "bad": self.bad}

    def load_state_dict(self, state: dict) -> None:
        if state:
            self.best, self.bad = state["best"], state["bad"]


@CALLBACKS.register("early_stop")
def early_stop(session) -> Callback | None:
    n = session.cfg.train.early_stop
    return EarlyStop(n, session.task) if n else None
