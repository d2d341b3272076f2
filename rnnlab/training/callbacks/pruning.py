"""A run that is one trial of `rnnlab sweep --search optuna`: it reports each evaluation's
key metric to the trial, through the study's storage (an SQLite file in the sweep folder,
Optuna's RDB storage), and stops when the study's pruner says it is clearly worse than the
others; summary.json then says `status: pruned`.

The sweep (which never imports training) names the trial in the run's environment:
RNNLAB_OPTUNA_STORAGE (the storage URL), RNNLAB_OPTUNA_STUDY (the study name),
RNNLAB_OPTUNA_TRIAL (the trial's id) and RNNLAB_OPTUNA_PRUNER (`median:N`, `hyperband`,
`asha` or `none`: a study's pruner is not kept in its storage, so each run builds it).
Without them this callback is not made.
"""

from __future__ import annotations

import os

from rnnlab.errors import RnnlabError

from .base import CALLBACKS, Callback

STORAGE, STUDY, TRIAL = "RNNLAB_OPTUNA_STORAGE", "RNNLAB_OPTUNA_STUDY", "RNNLAB_OPTUNA_TRIAL"
PRUNER = "RNNLAB_OPTUNA_PRUNER"


@CALLBACKS.register("optuna_pruning")
def optuna_pruning(session) -> Callback | None:
    if not os.environ.get(STORAGE):
        return None
    try:
        import optuna
    except ImportError:
        raise RnnlabError("this run is an Optuna trial: pip install 'rnnlab[optuna]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(
        os.environ[STORAGE], engine_kwargs={"connect_args": {"timeout": 60}}
    )
    pruner = make_pruner(optuna, os.environ.get(PRUNER, "median:5"))
    study = optuna.load_study(study_name=os.environ[STUDY], storage=storage, pruner=pruner)
    trial = optuna.trial.Trial(study, int(os.environ[TRIAL]))
    return Pruning(trial, session.task.key_metric)


def make_pruner(optuna, spec: str):
    """`median:N`: stop a trial whose best value so far is worse than the median of the
    finished trials' at the same step, once N trials have finished; `hyperband`, `asha`
    (successive halving) with Optuna's defaults; `none`."""
    name, _, startup = spec.partition(":")
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=int(startup or 5), n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


class Pruning(Callback):
    def __init__(self, trial, metric: str):
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None

    def on_log_point(self, s, state, row: dict, evaluated: bool) -> None:
        value = row.get(self.metric)
        if not evaluated or not isinstance(value, (int, float)) or self.pruned_at is not None:
            return
        self.trial.report(float(value), state.step)  # intermediate value at this step
        if self.trial.should_prune():
            self.pruned_at = state.step

    def stop_reason(self) -> str | None:
        if self.pruned_at is None:
            return None
        return f"pruned by the search at step {self.pruned_at} (worse than the other trials)"

    def summary(self) -> dict:
        if self.pruned_at is None:
            return {}
        return {"status": "pruned", "pruned_at_step": self.pruned_at}
