"""`rnnlab sweep --search random|optuna`: the space syntax, random trials that
depend on the seed and trial number alone, and an Optuna search on tiny_digitsum with 2
workers that prunes runs on a scripted objective, is interrupted with SIGINT and resumed
without repeating a finished trial."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.errors import RnnlabError
from rnnlab.sweep.space import check_space, draw, parse_space_options, to_optuna

REPO = Path(__file__).resolve().parents[1]
DIGITSUM = str(REPO / "configs" / "tiny_digitsum.yaml")
runner = CliRunner()


def test_space_options_and_yaml_give_the_same_space():
    given = parse_space_options(
        [
            "optim.lr=log_uniform:1e-4,1e-1",
            "model.hidden_size=choice:8,16",
            "model.num_layers=int:1,3",
        ]
    )
    assert given == {"optim.lr": {"log_uniform": [1e-4, 0.1]},
                     "model.hidden_size": {"choice": [8, 16]},
                     "model.num_layers": {"int": [1, 3]}}  # fmt: skip
    checked = check_space({**given, "model.dropout": {"uniform": ["0", "0.5"]}})  # YAML strings
    assert checked["model.dropout"] == ("uniform", [0.0, 0.5])
    assert set(to_optuna(checked)) == set(checked)


def test_random_draws_depend_on_seed_and_trial_only():
    space = check_space({"optim.lr": {"log_uniform": [1e-4, 1e-1]}, "model.num_layers": {"int": [1, 3]},
                         "model.cell": {"choice": ["gru", "lstm"]}})  # fmt: skip
    draws = [draw(space, 0, k) for k in range(200)]
    assert draw(space, 0, 7) == draws[7] and draw(space, 1, 7) != draws[7]
    assert all(1e-4 <= d["optim.lr"] <= 1e-1 for d in draws)
    assert {d["model.num_layers"] for d in draws} == {1, 2, 3}
    assert {d["model.cell"] for d in draws} == {"gru", "lstm"}
    small = sum(d["optim.lr"] < 1e-2 for d in draws)  # log-uniform: 2/3 below 1e-2
    assert 100 < small < 170


@pytest.mark.parametrize(
    "space, message",
    [
        ({"optim.lr": {"log_uniform": [0, 1]}}, "log_uniform needs low > 0"),
        ({"optim.lr": {"uniform": [1, 1]}}, "needs low < high"),
        ({"optim.lr": {"normal": [1, 2]}}, "must be one of"),
        ({"model.num_layers": {"int": [1.5, 3]}}, "int needs integer bounds"),
        ({"model.cell": {"choice": []}}, "choice needs a non-empty list"),
        ({}, "nothing to search"),
    ],
)
def test_bad_spaces(space, message):
    with pytest.raises(RnnlabError, match=message):
        check_space(space)


def rows(sweep: Path) -> list[dict]:
    with open(sweep / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_random_search_runs_its_trials_as_a_sweep(tmp_path):
    argv = ["sweep", DIGITSUM, "--search", "random", "--trials", "2", "--workers", "2",
            "--space", "model.hidden_size=choice:4,8,12", "--space", "optim.lr=log_uniform:1e-3,1e-1",
            "train.epochs=1", "--out", str(tmp_path)]  # fmt: skip
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    sweep = Path(result.stdout.strip().splitlines()[-1])
    found = rows(sweep)
    assert [r["run"] for r in found] == ["trial-000", "trial-001"]
    assert all(r["status"] == "finished" for r in found)
    space = check_space({"model.hidden_size": {"choice": [4, 8, 12]},
                         "optim.lr": {"log_uniform": [1e-3, 1e-1]}})  # fmt: skip
    for k, row in enumerate(found):
        assert float(row["optim.lr"]) == pytest.approx(draw(space, 0, k)["optim.lr"])
        config = (sweep / "runs" / row["run"] / "config.yaml").read_text()
        assert f"hidden_size: {draw(space, 0, k)['model.hidden_size']}" in config


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_optuna_search_prunes_and_resumes_after_sigint(tmp_path):
    """The scripted objective: optim.lr is 0.01 (learns a little) or 1e-30 (learns
    nothing: dev accuracy stays at its first value), and the seeded sampler starts with
    one of each; later 1e-30 trials fall below the median and are pruned."""
    argv = [sys.executable, "-m", "rnnlab", "sweep", DIGITSUM, "--search", "optuna",
            "--trials", "6", "--workers", "2", "--space", "optim.lr=choice:0.01,1e-30",
            "train.epochs=1", "--out", str(tmp_path)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    found = lambda: list(tmp_path.glob("*/results.csv"))  # noqa: E731
    wait_for(lambda: found() and len(rows(found()[0].parent)) >= 2, 400, "the first two trials")
    sweep = found()[0].parent
    wait_for(lambda: (sweep / "runs" / "trial-002" / "config.yaml").is_file(), 120, "trial 2")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert f"rnnlab sweep --resume {sweep}" in err
    done = {r["run"]: (sweep / "runs" / r["run"] / "summary.json").stat().st_mtime_ns
            for r in rows(sweep) if r["status"] in ("finished", "pruned")}  # fmt: skip
    assert len(done) >= 2

    resumed = runner.invoke(app, ["sweep", "--resume", str(sweep)])  # in this process
    assert resumed.exit_code == 0, resumed.output
    final = rows(sweep)
    statuses = [(r["run"], r["status"], r["error"]) for r in final]
    assert len(final) == 6 and all(r["status"] in ("finished", "pruned") for r in final), statuses
    for name, mtime in done.items():  # finished trials were not run again
        assert (sweep / "runs" / name / "summary.json").stat().st_mtime_ns == mtime
    pruned = [r for r in final if r["status"] == "pruned"]
    assert pruned and all(float(r["optim.lr"]) == 1e-30 for r in pruned)
    summary = json.loads((sweep / "runs" / pruned[0]["run"] / "summary.json").read_text())
    assert summary["status"] == "pruned" and summary["pruned_at_step"] > 0
    import optuna  # here, not at the top: it takes a second or two to import

    study = optuna.load_study(study_name="rnnlab", storage=f"sqlite:///{sweep / 'study.db'}")
    states = [t.state for t in study.trials if not t.user_attrs.get("redone")]
    assert (
        states.count(optuna.trial.TrialState.COMPLETE)
        + states.count(optuna.trial.TrialState.PRUNED)
        == 6
    )
    best = max(float(r["best_dev_acc"]) for r in final if r["status"] == "finished")
    assert study.best_value == pytest.approx(best)
    # only stopped trials' folders were set aside (a trial whose run ended before the sweep
    # could tell the study is told its result on --resume), and compare reads the sweep
    for aside in (sweep / "attempts").glob("*") if (sweep / "attempts").exists() else []:
        found = aside / "summary.json"
        status = json.loads(found.read_text()).get("status") if found.is_file() else None
        assert status not in ("finished", "pruned"), (aside, status)
    compared = runner.invoke(app, ["compare", str(sweep), "--out", str(tmp_path / "c.png")])
    assert compared.exit_code == 0, compared.output


def test_without_optuna_the_search_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    argv = ["sweep", DIGITSUM, "--search", "optuna", "--space", "optim.lr=uniform:0.001,0.1",
            "--out", str(tmp_path / "o")]  # fmt: skip
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --search optuna needs Optuna, which is not installed: pip install 'rnnlab[optuna]'"
    )
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.mark.ray
def test_an_optuna_search_on_ray_shares_the_study(ray_address, tmp_path):
    """Runs started by Ray workers report to the same study file: every trial has its
    evaluations in the study, and results.csv has every trial."""
    argv = ["sweep", DIGITSUM, "--search", "optuna", "--trials", "3", "--executor", "ray",
            "--space", "model.hidden_size=choice:4,8", "train.epochs=1", "sweep.workers=2",
            "--out", str(tmp_path)]  # fmt: skip
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    sweep = Path(result.stdout.strip().splitlines()[-1])
    assert len(rows(sweep)) == 3 and "ray: 1 node(s), 2 CPUs" in result.output
    import optuna  # here, not at the top: it takes a second or two to import

    study = optuna.load_study(study_name="rnnlab", storage=f"sqlite:///{sweep / 'study.db'}")
    assert len(study.trials) == 3
    assert all(t.intermediate_values for t in study.trials)  # reported from the Ray runs
    assert all(
        "ray worker pid" in (sweep / "logs" / f"{r['run']}.log").read_text() for r in rows(sweep)
    )
