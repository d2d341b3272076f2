"""Running a planned search (`run_search`: random draws run as a sweep), and the Optuna side
of `rnnlab sweep --search optuna` (`search.py` plans it): the study in
the sweep folder's SQLite file, asked for a round of trials at a time (as many as run at
once), told each run's outcome; the runs report their evaluations to their trials and
prune themselves (rnnlab/training/callbacks/pruning.py), told which trial they are in
their environment. A trial whose run stopped (interrupted, failed or killed) with a
`last.pt` is left running in the study and continues from it on --resume, as the same
trial (train --resume); other stopped trials are redone; finished ones never."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from rnnlab.runs import Run
from rnnlab.runs.lock import locked

from .executors import make_executor
from .jobs import Job, Outcome, continues, keep_attempt, resume_overrides, set_aside
from .runner import _row, _write, run_sweep
from .search import Search, Trial, import_optuna, tried_values
from .space import check_space, to_optuna
from .studydb import back_up, check_agrees, check_study_file, trial_folders

if TYPE_CHECKING:
    from optuna.trial import Trial as OptunaTrial

STUDY_NAME = "rnnlab"
# the environment that makes a run a trial: read by rnnlab/training/callbacks/pruning.py
STORAGE_ENV, STUDY_ENV, TRIAL_ENV = (
    "RNNLAB_OPTUNA_STORAGE",
    "RNNLAB_OPTUNA_STUDY",
    "RNNLAB_OPTUNA_TRIAL",
)
PRUNER_ENV = "RNNLAB_OPTUNA_PRUNER"


def run_search(search: Search, reporter, gpus: int = 0) -> dict[str, int]:
    """Run the search's trials not yet done; the count of runs by status."""
    if search.kind == "random":  # drawn up front: the grid machinery runs them
        return run_sweep(search, reporter, gpus)
    return run_study(search, reporter, gpus)


def open_study(search: Search):
    optuna = import_optuna()
    storage = optuna.storages.RDBStorage(
        search.storage, engine_kwargs={"connect_args": {"timeout": 60}}
    )
    return optuna.create_study(
        storage=storage, study_name=STUDY_NAME, direction=search.direction,
        sampler=optuna.samplers.TPESampler(seed=search.seed), load_if_exists=True,
    )  # fmt: skip


def pruner_spec(search: Search) -> str:
    """What each run builds its pruner from (the runs prune, not the sweep): the median
    pruner starts once max(2, min(5, trials // 10)) trials have finished."""
    if search.pruner == "median":
        return f"median:{max(2, min(5, search.trials // 10))}"
    return search.pruner


def run_study(search: Search, reporter, gpus: int) -> dict[str, int]:
    """Holds the sweep folder's lock; the study is checked against the run folders and
    backed up (with results.csv) before anything is written."""
    with locked(search.dir, "sweep folder"):
        resumed = (search.dir / "study.db").exists()
        study = checked_study(search)
        if resumed:  # a copy to go back to, taken once the study is known to be whole
            back_up(search.dir / "study.db", search.dir / "results.csv")
        return _run_study(search, study, reporter, gpus)


def checked_study(search: Search):
    """The study, once study.db is a whole database holding it and it agrees with the
    run folders (a finished run is finished); else one line saying how to recover."""
    path = search.dir / "study.db"
    check_study_file(path, STUDY_NAME)
    study = open_study(search)
    statuses = {p.name: Run(p).read_summary().get("status") for p in trial_folders(search.dir)}
    check_agrees(path, study.get_trials(deepcopy=False), statuses)
    return study


def _run_study(search: Search, study, reporter, gpus: int) -> dict[str, int]:
    optuna = import_optuna()
    states = optuna.trial.TrialState
    continued = redo_stopped(study, search)
    jobs = [_job(search, t, resume=True) for t in continued]
    distributions = to_optuna(check_space(search.space))
    rows = {t.number: _row(search, _trial_point(t, search.seed)) for t in counted(study)}
    executor = make_executor(search.executor, search.workers, gpus)
    reporter.start(search.trials, done=len(rows))
    asked: dict[str, OptunaTrial] = {_trial_point(t, search.seed).name: t for t in continued}
    left: set[int] = set()  # trials left running to continue on --resume

    def on_done(job: Job, outcome: Outcome) -> None:
        trial = asked[job.name]
        row = rows[trial.number] = _row(search, _trial_point(trial, search.seed), outcome)
        value = row.get(search.metric)
        if row["status"] == "pruned":
            study.tell(trial.number, state=states.PRUNED)
        elif (
            row["status"] == "finished" and isinstance(value, (int, float)) and math.isfinite(value)
        ):
            study.tell(trial.number, value)
        elif row["status"] == "interrupted" or continues(job.run_dir):
            left.add(trial.number)  # left running: continued (or redone) on --resume
        else:
            study.tell(trial.number, state=states.FAIL)
        _write_rows(search, rows)
        reporter.run_done(row, search.metric)

    try:
        while jobs or len(counted(study)) + len(left) < search.trials:
            room = search.trials - len(counted(study)) - len(left) - len(jobs)
            batch = [study.ask(distributions) for _ in range(min(search.workers - len(jobs), room))]
            asked.update({_trial_point(t, search.seed).name: t for t in batch})
            executor.run(jobs + [_job(search, t) for t in batch], on_done)
            jobs = []
    finally:
        reporter.stop()
        if rows:
            _write_rows(search, rows)
    counts: dict[str, int] = {}
    for row in rows.values():
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def counted(study) -> list:
    """The trials that count towards --trials: done (complete, pruned, failed), not those
    set aside to be redone; in order."""
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
            optuna.trial.TrialState.FAIL)  # fmt: skip
    return [
        t for t in study.get_trials(deepcopy=False, states=done) if not t.user_attrs.get("redone")
    ]


def redo_stopped(study, search: Search) -> list:
    """Trials left running by a stopped sweep or run. A trial whose run finished (the sweep
    died before telling the study) is told its result: the folder is the truth. One whose
    run has a `last.pt` (and did not diverge) is returned, to continue from it (a failed or
    killed run's record kept in attempts/ first). Any other: its run folder is set aside,
    it is marked failed (and redone) and its values are queued to be asked again."""
    import optuna

    continued = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if tell_finished(study, search, trial):
            continue
        point = _trial_point(trial, search.seed)
        if continues(search.run_dir(point)):
            if Run(search.run_dir(point)).read_summary().get("status") != "interrupted":
                keep_attempt(search.run_dir(point), search.dir / "attempts", _log(search, point))
            continued.append(trial)
            continue
        set_aside(search.run_dir(point), search.dir / "attempts")
        study._storage.set_trial_user_attr(trial._trial_id, "redone", True)
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
    return continued


def tell_finished(study, search: Search, trial) -> bool:
    """Tell the study a running trial's result when its run folder says it ended."""
    states = import_optuna().trial.TrialState
    row = _row(search, _trial_point(trial, search.seed))
    value = row.get(search.metric)
    if row["status"] == "pruned":
        study.tell(trial.number, state=states.PRUNED)
    elif row["status"] == "finished" and isinstance(value, (int, float)) and math.isfinite(value):
        study.tell(trial.number, value)
    elif row["status"] == "finished":  # without a finite objective, as on_done tells it
        study.tell(trial.number, state=states.FAIL)
    else:
        return False
    return True


def _trial_point(trial, seed: int) -> Trial:
    return Trial(tuple(trial.params.items()), seed, trial.number)


def _log(search: Search, point: Trial) -> Path:
    return search.dir / "logs" / f"{point.name}.log"


def _job(search: Search, trial, resume: bool = False) -> Job:
    """The trial's run, or (`resume`) its continuation from last.pt, as the same trial."""
    point = _trial_point(trial, search.seed)
    run_dir = search.run_dir(point)
    overrides = point.overrides()
    if resume:
        overrides = resume_overrides(search.base_path, overrides, run_dir)
    env = {STORAGE_ENV: search.storage, STUDY_ENV: STUDY_NAME, TRIAL_ENV: str(trial._trial_id),
           PRUNER_ENV: pruner_spec(search)}  # fmt: skip
    return Job(point.name, search.base_path, overrides, run_dir, _log(search, point),
               search.dir / "attempts", env=env, resume=resume)  # fmt: skip


def _write_rows(search: Search, rows: dict) -> None:
    ordered = [rows[k] for k in sorted(rows)]
    search.grid = tried_values(ordered, search.space)
    _write(search, ordered)
