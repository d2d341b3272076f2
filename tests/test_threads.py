"""Threads that fit the machine: `threads: auto` counts usable cores and the load others put
on them, an explicit number or OMP_NUM_THREADS wins, the start-up line says what was chosen
and why, the run records it, the numbers do not depend on it, and a run that slows down far
below its first minute says so once."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.cpus import choose_threads, parse_threads, prepare_environment, usable_cores
from rnnlab.errors import RnnlabError
from rnnlab.runs.progress import SlowdownWatch

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "configs" / "tiny.yaml")
runner = CliRunner()


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    "cores, load, expected",
    [(2, 0.0, 2), (2, 0.4, 2), (2, 1.0, 1), (2, 7.0, 1), (8, 3.0, 5), (1, 0.0, 1)],
)
def test_auto_takes_the_cores_others_leave(cores, load, expected):
    choice = choose_threads("auto", env={}, cores_load=(cores, load))
    assert choice.threads == expected
    assert f"{cores} usable cores" in choice.why
    assert choice.busy == (load >= 0.5 and cores > 1)


def test_explicit_number_and_omp_num_threads_win():
    assert choose_threads(3, env={"OMP_NUM_THREADS": "1"}).threads == 3
    choice = choose_threads("auto", env={"OMP_NUM_THREADS": "4"}, cores_load=(2, 0.0))
    assert choice.threads == 4 and "OMP_NUM_THREADS=4" in choice.why


def test_cgroup_quota_caps_the_cores(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("50000 100000\n")
    assert usable_cores(cpu_max) == (1, "cgroup cpu.max")
    cpu_max.write_text("max 100000\n")
    assert usable_cores(cpu_max)[1] != "cgroup cpu.max"


def test_passive_wait_only_before_torch_and_on_a_busy_machine(monkeypatch):
    busy = choose_threads("auto", env={}, cores_load=(4, 2.0))
    assert prepare_environment(busy, env={}) is False  # torch is loaded in this process
    monkeypatch.delitem(sys.modules, "torch")
    env: dict = {}
    assert prepare_environment(busy, env=env) and env["OMP_WAIT_POLICY"] == "PASSIVE"
    idle = choose_threads("auto", env={}, cores_load=(4, 0.0))
    assert not prepare_environment(idle, env={})
    assert not prepare_environment(busy, env={"OMP_WAIT_POLICY": "ACTIVE"})


def test_parse_threads():
    assert parse_threads("auto") == "auto" and parse_threads(" 2 ") == 2
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(RnnlabError, match="auto or a number"):
            parse_threads(bad)


def _train(tmp_path: Path, threads: str) -> Path:
    argv = ["train", TINY, "train.epochs=2", "--out", str(tmp_path / threads), "--threads", threads]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert f"threads: {threads} (threads setting)" in result.output
    return Path(result.output.strip().splitlines()[-1])


def test_thread_count_is_said_recorded_and_does_not_change_the_numbers(tmp_path):
    one, two = _train(tmp_path, "1"), _train(tmp_path, "2")
    summary = json.loads((one / "summary.json").read_text())
    assert summary["threads"] == 1 and summary["device"] == "cpu (1 thread)"
    assert json.loads((two / "summary.json").read_text())["threads"] == 2
    drop = ("tokens_per_s", "train_s")
    rows = [
        [
            {k: v for k, v in r.items() if k not in drop}
            for r in csv.DictReader(open(d / "metrics.csv"))
        ]
        for d in (one, two)
    ]
    assert rows[0] == rows[1]  # bit for bit: the losses as printed in full


def test_resume_may_change_threads(tmp_path):
    run = _train(tmp_path, "1")
    result = runner.invoke(app, ["train", "--resume", str(run), "train.epochs=3", "threads=2"])
    assert result.exit_code == 0, result.output
    assert "threads: 2" in result.output
    assert json.loads((run / "summary.json").read_text())["threads"] == 2


def test_slowdown_is_said_once_with_its_likely_cause():
    watch = SlowdownWatch(load=lambda: (3.8, 2))
    rows = [{"tokens_per_s": 10_000.0, "train_s": 30.0}] * 2  # the first minute
    assert all(watch.check(r) is None for r in rows)
    assert watch.check({"tokens_per_s": 5_000.0, "train_s": 30.0}) is None  # half: not far
    note = watch.check({"tokens_per_s": 2_000.0, "train_s": 30.0})
    assert note and "10.0k" in note and "busy (load 3.8 on 2 cores)" in note
    assert watch.check({"tokens_per_s": 1_000.0, "train_s": 30.0}) is None  # once
    calm = SlowdownWatch(load=lambda: (0.5, 2))
    for row in [*rows, {"tokens_per_s": 1_000.0, "train_s": 30.0}]:
        note = calm.check(row)
    assert note and "not the machine's load" in note


def test_busy_cores_reads_the_cpu_time_of_the_next_moment(tmp_path, monkeypatch):
    """auto looks at what the machine does now (two /proc/stat samples), not the 1-minute
    load average, which still counts a job that ended seconds ago."""
    from rnnlab import cpus

    stat = tmp_path / "stat"
    #                 user nice system idle iowait irq softirq steal
    samples = iter(["cpu 100 0 100 800 0 0 0 0\n", "cpu 250 0 100 850 0 0 0 0\n"])

    def sleep(_seconds):  # the second sample, written while auto waits
        stat.write_text(next(samples))

    stat.write_text(next(samples))
    monkeypatch.setattr(cpus.time, "sleep", sleep)
    monkeypatch.setattr(cpus.os, "cpu_count", lambda: 2)
    assert cpus.busy_cores(stat) == pytest.approx(1.5)  # 150 of 200 ticks busy on 2 cores
    assert cpus.busy_cores(tmp_path / "missing") is None


def test_a_run_follows_the_machine_load_while_it_trains(monkeypatch, capsys):
    """threads: auto drops to the cores other work leaves, and takes them back."""
    from rnnlab.training.callbacks import threads as adapt

    loads = iter([1.0, 1.0, 0.0])
    monkeypatch.setattr(adapt, "others_busy", lambda before, after: next(loads))
    monkeypatch.setattr(adapt, "CHECK_S", 0.0)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        callback = adapt.AdaptThreads(cores=2)
        seen = []
        for _ in range(3):
            callback.on_step(None, None)
            seen.append(torch.get_num_threads())
        assert seen == [1, 1, 2]
        lines = capsys.readouterr().err.splitlines()
        assert lines == [
            "threads: 1 (other work now keeps 1.0 of 2 cores busy)",
            "threads: 2 (other work now keeps 0.0 of 2 cores busy)",
        ]
    finally:
        torch.set_num_threads(before)
