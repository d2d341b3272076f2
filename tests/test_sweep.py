"""`rnnlab sweep`: grids, results, failures, resume, Ctrl-C. (`rnnlab compare` on a sweep
folder: tests/test_compare.py.)"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import interrupt_sweep, read_results, resume_sweep_quickly, sweep_dir_of, wait_until
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.errors import RnnlabError
from rnnlab.sweep import expand, local, parse_grid_options, parse_seeds
from rnnlab.sweep.jobs import Job, outcome_of

runner = CliRunner()
FAST = ["train.epochs=1", "data.max_tokens=600", "train.sample_len=5"]


def test_grid_options_parse_yaml_scalars():
    grid = parse_grid_options(["data.num_steps=5,10", "model.cell=rnn,lstm", "optim.clip=null,1"])
    assert grid == {
        "data.num_steps": [5, 10],
        "model.cell": ["rnn", "lstm"],
        "optim.clip": [None, 1],
    }


@pytest.mark.parametrize("item", ["model.cell", "=rnn", "model.cell=", "model.cell=rnn,,gru"])
def test_malformed_grid_is_refused(item):
    with pytest.raises(RnnlabError, match="is not KEY=V1,V2"):
        parse_grid_options([item])


def test_seeds_must_be_integers():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    with pytest.raises(RnnlabError, match="--seeds must be integers"):
        parse_seeds("0,a")


def test_expand_is_the_cartesian_product_times_seeds():
    points = expand({"data.length": [5, 10], "model.cell": ["rnn", "lstm"]}, [0, 1])
    assert len(points) == 8
    assert points[0].overrides() == ["data.length=5", "model.cell=rnn", "seed=0"]
    assert points[0].name == "length-5_cell-rnn_seed-0"
    assert len({p.name for p in points}) == 8


def test_a_bad_grid_value_fails_before_anything_runs(tiny_config, tmp_path):
    args = ["sweep", str(tiny_config), "--grid", "model.cell=rnn,gur", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "sweep point cell-gur_seed-0: 'model.cell' must be one of" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_grid_key_that_does_not_exist_is_named(tiny_config, tmp_path):
    args = ["sweep", str(tiny_config), "--grid", "model.cels=rnn", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "did you mean 'model.cell'" in result.output


@pytest.fixture
def finished_sweep(tiny_sweep) -> Path:
    """The session's 4-run sweep (2 cells x 2 seeds, 2 workers: conftest.tiny_sweep)."""
    return tiny_sweep


def test_sweep_folder_layout_and_results(finished_sweep):
    for name in ["sweep.yaml", "base.yaml", "results.csv", "plots/best_val_ppl.png"]:
        assert (finished_sweep / name).is_file(), name
    rows = read_results(finished_sweep)
    assert [(r["model.cell"], r["seed"]) for r in rows] == [
        ("rnn", "0"), ("rnn", "1"), ("gru", "0"), ("gru", "1")]  # fmt: skip
    assert all(r["status"] == "finished" and float(r["best_val_ppl"]) > 1 for r in rows)
    assert all(float(r["wall_s"]) > 0 for r in rows)
    for row in rows:  # every point is an ordinary run folder with its own config
        config = (finished_sweep / "runs" / row["run"] / "config.yaml").read_text()
        assert f"cell: {row['model.cell']}" in config and f"seed: {row['seed']}" in config


def test_each_point_is_the_run_its_seed_gives_alone(finished_sweep, tmp_path):
    """The seed reaches the run: the sweep's (rnn, seed 1) point logs exactly what
    `rnnlab train` with those overrides logs, and seed 0 something else."""
    rows = read_results(finished_sweep)
    config = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
    args = ["train", str(config), *FAST, "model.cell=rnn", "seed=1", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    alone = Path(result.output.strip().splitlines()[-1])

    def losses(run: Path) -> list[dict]:  # metrics.csv less its wall-clock columns
        with open(run / "metrics.csv", newline="") as f:
            return [
                {k: v for k, v in r.items() if k not in ("tokens_per_s", "train_s")}
                for r in csv.DictReader(f)
            ]

    seed0, seed1 = (finished_sweep / "runs" / rows[i]["run"] for i in (0, 1))
    assert (rows[1]["model.cell"], rows[1]["seed"]) == ("rnn", "1")
    assert losses(seed1) == losses(alone) and len(losses(alone)) >= 1
    assert losses(seed0) != losses(seed1)
    assert rows[0]["best_val_ppl"] != rows[1]["best_val_ppl"]


def test_resume_redoes_only_unfinished_runs(finished_sweep):
    rows = read_results(finished_sweep)
    victim = finished_sweep / "runs" / rows[1]["run"]
    (victim / "summary.json").unlink()  # as if the run had been killed
    kept = finished_sweep / "logs" / f"{rows[0]['run']}.log"
    before = kept.stat().st_mtime_ns
    result = runner.invoke(app, ["sweep", "--resume", str(finished_sweep)])
    assert result.exit_code == 0, result.output
    assert "3 of 4 runs already finished" in result.output
    assert kept.stat().st_mtime_ns == before  # a finished run is not rerun
    assert (victim / "summary.json").is_file()
    assert (finished_sweep / "attempts" / f"{rows[1]['run']}-1").is_dir()  # old attempt kept
    assert all(r["status"] == "finished" for r in read_results(finished_sweep))


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tiny_config, tmp_path):
    # batch_size 64 passes the config check but the 600-token text is shorter than a batch
    args = [
        "sweep",
        str(tiny_config),
        *FAST,
        "--grid",
        "data.batch_size=2,64",
        "--workers",  # both runs at once, one torch thread each
        "2",
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    rows = {r["data.batch_size"]: r for r in read_results(sweep_dir_of(result.output))}
    assert rows["2"]["status"] == "finished"
    assert rows["64"]["status"] == "failed"
    assert "fewer than one batch needs" in rows["64"]["error"]


def test_ctrl_c_stops_the_workers_and_resume_finishes(tiny_config, tmp_path):
    args = [str(tiny_config), "train.epochs=200", "--grid", "model.cell=rnn,lstm",
            "--workers", "1"]  # fmt: skip
    sweep_dir, _ = interrupt_sweep(args, tmp_path)
    statuses = [r["status"] for r in read_results(sweep_dir)]
    assert statuses[0] == "interrupted" and "finished" not in statuses
    resume_sweep_quickly(sweep_dir, 200)
    assert [r["status"] for r in read_results(sweep_dir)] == ["finished"] * 2
    assert not (sweep_dir / "attempts").exists()  # the interrupted run went on (--resume)


def test_a_run_the_sweep_stopped_is_interrupted_whatever_its_exit(tmp_path):
    """A run killed after the grace period, or aborted while starting, did not fail on
    its own account: --resume redoes it, where a failed run would stay failed (a search
    counts it as a trial)."""
    log = tmp_path / "run.log"
    log.write_text("epoch 1 ...\nAborted!\n")
    assert outcome_of(-9, log, 1.0).status == "failed"
    stopped = outcome_of(-9, log, 1.0, stopped=True)
    assert stopped.status == "interrupted" and "exit code -9" in stopped.error
    assert "Aborted!" in stopped.error
    assert outcome_of(0, log, 1.0, stopped=True).status == "finished"
    assert outcome_of(130, log, 1.0).status == "interrupted"


def test_a_run_started_while_the_sweep_stops_is_stopped_too(tmp_path, monkeypatch):
    """The race of Ctrl-C with a run starting: stop() signals the runs it sees, and a run
    whose process appears just after that is signalled by its own thread (before, it ran
    to its end while the sweep waited for it), SIGKILLed after the grace period as the
    others are. The run here ignores SIGINT, as every process started from a shell's
    background job does (a CI runner's, say)."""
    executor = local.LocalExecutor(workers=1)
    real_popen = subprocess.Popen

    ready = tmp_path / "ignoring"

    def popen_then_stop(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        wait_until(ready.exists, 30, "the run to ignore SIGINT", proc)
        executor.stop(grace_s=1.0)  # Ctrl-C lands after the process exists, before it is seen
        return proc

    sleeper = [sys.executable, "-c", "import pathlib, signal, sys, time; signal.signal("
               "signal.SIGINT, signal.SIG_IGN); pathlib.Path(sys.argv[1]).touch(); "
               "time.sleep(60)", str(ready)]  # fmt: skip
    monkeypatch.setattr(local, "command", lambda job: sleeper)
    monkeypatch.setattr(local.subprocess, "Popen", popen_then_stop)
    job = Job("p", tmp_path / "base.yaml", [], tmp_path / "runs" / "p", tmp_path / "p.log")
    outcomes = []
    started = time.time()
    executor.run([job], lambda job, outcome: outcomes.append(outcome))
    assert time.time() - started < 30
    assert [o.status for o in outcomes] == ["interrupted"]
    assert "exit code -9" in outcomes[0].error  # the grace period's SIGKILL
