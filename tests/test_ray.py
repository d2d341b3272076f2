"""`rnnlab sweep --executor ray`: option checks (everywhere), then on a local Ray cluster of
2 CPUs shared by the module (tests marked `ray`, which need `pip install 'rnnlab[ray]'`):
the local executor's results, a failed run recorded, a killed worker retried, Ctrl-C and
--resume, and no Ray process left behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import (
    TINY_SWEEP_FAST,
    TINY_SWEEP_GRID,
    interrupt_sweep,
    read_results,
    resume_sweep_quickly,
    sweep_dir_of,
)
from typer.testing import CliRunner

from rnnlab.cli import app

runner = CliRunner()
FAST = ["train.epochs=1", "data.max_tokens=600", "train.sample_len=5"]
METRICS = ["final_train_loss", "final_train_ppl", "final_val_loss", "final_val_ppl",
           "best_epoch", "best_val_ppl", "epochs", "parameters"]  # fmt: skip


def sweep_args(config: Path, out: Path, *more: str) -> list[str]:
    return ["sweep", str(config), *FAST, *more, "--out", str(out)]


# --- option checks: no cluster needed, and no Ray either ---
def test_without_ray_the_ray_executor_says_how_to_install_it(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    args = sweep_args(tiny_config, tmp_path, "--grid", "model.cell=rnn", "--executor", "ray")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --executor ray needs Ray, which is not installed: pip install 'rnnlab[ray]'"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "options, message",
    [
        (["--executor", "ray", "--out", "runs/sweeps"], "needs --out as an absolute path"),
        (["--executor", "ray"], "needs --out as an absolute path on a filesystem that every"),
        (["--executor", "dask"], "--executor must be local or ray, got 'dask'"),
        (["--address", "auto", "--gpus-per-run", "1"], "--address, --gpus-per-run: only with"),
        (["--executor", "ray", "--workers", "2"], "--workers is for --executor local"),
        (["--executor", "ray", "--cpus-per-run", "0"], "--cpus-per-run must be >= 1, got 0"),
        (["--executor", "ray", "--max-retries", "-1"], "--max-retries must be >= 0, got -1"),
    ],
)
def test_bad_executor_options_are_one_line(tiny_config, tmp_path, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", str(tiny_config), "--grid", "model.cell=rnn", *options]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and message in result.output
    assert list(tmp_path.iterdir()) == []  # nothing planned, nothing written


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_runs_process_dies_with_its_parent():
    # parent: starts a grandchild that sleeps after die_with_parent(), prints its pid, exits
    grandchild = (
        "import os, sys, time; from rnnlab.sweep.child import die_with_parent; "
        "die_with_parent(int(sys.argv[1])); time.sleep(60)"
    )
    parent = (
        "import os, subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', {grandchild!r}, str(os.getpid())]); "
        "print(p.pid, flush=True); time.sleep(1.5)"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, check=True)
    assert gone(int(out.stdout)), "the grandchild outlived its parent"


# --- on a local Ray cluster ---
def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether `pid` has exited (a zombie waiting for its reaper counts as exited)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def ray_cluster():
    """A 2-CPU Ray cluster started by this process; its address. Afterwards, every process
    it started (Ray's, the workers', the runs') must be gone."""
    ray = pytest.importorskip("ray")
    before = descendants(os.getpid())
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    address = ray.get_runtime_context().gcs_address
    yield address
    started = descendants(os.getpid()) - before
    ray.shutdown()
    left = [pid for pid in started if not gone(pid)]
    assert not left, f"processes left running after ray.shutdown: {left}"


def run_log(sweep_dir: Path, row: dict) -> str:
    return (sweep_dir / "logs" / f"{row['run']}.log").read_text()


def device_of(sweep_dir: Path, row: dict) -> str:
    return json.loads((sweep_dir / "runs" / row["run"] / "summary.json").read_text())["device"]


@pytest.mark.ray
def test_a_ray_sweep_gives_the_local_executors_results(
    ray_cluster, tiny_config, tmp_path, tiny_sweep
):
    grid = ["--grid", "model.cell=rnn,gru", "--seeds", "0,1"]
    on_ray = runner.invoke(
        app, sweep_args(tiny_config, tmp_path / "ray", *grid, "--executor", "ray")
    )
    assert on_ray.exit_code == 0, on_ray.output
    # the same sweep on the local executor: the session's (conftest.tiny_sweep)
    assert (TINY_SWEEP_FAST, TINY_SWEEP_GRID[:4]) == (FAST, grid)
    ray_dir, local_dir = sweep_dir_of(on_ray.output), tiny_sweep
    ray_rows, local_rows = read_results(ray_dir), read_results(local_dir)
    assert [r["run"] for r in ray_rows] == [r["run"] for r in local_rows]  # 4 runs, same order
    for on_ray_row, local_row in zip(ray_rows, local_rows):
        assert on_ray_row["status"] == local_row["status"] == "finished"
        for column in METRICS:  # training on CPU is deterministic for a seed
            assert float(on_ray_row[column]) == pytest.approx(float(local_row[column]), abs=1e-9)
        assert device_of(ray_dir, on_ray_row) == "cpu (1 thread)"  # threads = --cpus-per-run
        assert "ray worker pid" in run_log(ray_dir, on_ray_row)
    assert (ray_dir / "plots" / "best_val_ppl.png").read_bytes()[:4] == b"\x89PNG"
    assert "ray: 1 node(s), 2 CPUs" in on_ray.output


@pytest.mark.ray
def test_a_failing_run_is_recorded_and_the_ray_sweep_goes_on(ray_cluster, tiny_config, tmp_path):
    # batch_size 64 passes the config check but the 600-token text is shorter than a batch
    args = sweep_args(tiny_config, tmp_path, "--grid", "data.batch_size=2,64", "--executor", "ray")
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    rows = {r["data.batch_size"]: r for r in read_results(sweep_dir_of(result.output))}
    assert rows["2"]["status"] == "finished"
    assert rows["64"]["status"] == "failed"
    assert "fewer than one batch needs" in rows["64"]["error"]
    assert not (sweep_dir_of(result.output) / "attempts").exists()  # a failed run is not retried


@pytest.mark.ray
@pytest.mark.parametrize("options", [["--cpus-per-run", "3"], ["--gpus-per-run", "1"]])
def test_a_run_no_node_can_hold_is_an_error_not_a_hang(ray_cluster, tiny_config, tmp_path, options):
    args = sweep_args(
        tiny_config, tmp_path, "--grid", "model.cell=rnn", "--executor", "ray", *options
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "error: no node of the Ray cluster has" in result.output
    assert "(nodes: 2 CPUs + 0 GPUs)" in result.output


@pytest.mark.ray
def test_a_killed_worker_is_retried_from_its_last_pt(ray_cluster, tiny_config, tmp_path):
    killed: dict[str, int] = {}
    sweep_over = threading.Event()

    def kill_the_worker_mid_run() -> None:  # once; the test fails below if it never could
        deadline = time.time() + 120
        while time.time() < deadline and not killed and not sweep_over.is_set():
            for metrics in tmp_path.glob("*/runs/*/metrics.csv"):
                last = metrics.parent / "checkpoints" / "last.pt"
                if (metrics.parent / "summary.json").exists() or not last.exists():
                    continue
                log = (metrics.parents[2] / "logs" / f"{metrics.parent.name}.log").read_text()
                killed["run"] = int(re.search(r"run pid (\d+)", log).group(1))
                killed["worker"] = int(re.search(r"ray worker pid (\d+)", log).group(1))
                os.kill(killed["worker"], signal.SIGKILL)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_mid_run)
    killer.start()
    args = ["sweep", str(tiny_config), "train.epochs=8", "data.max_tokens=600",
            "train.sample_len=5", "--grid", "model.cell=gru", "--executor", "ray",
            "--cpus-per-run", "2", "--max-retries", "1", "--out", str(tmp_path)]  # fmt: skip
    result = runner.invoke(app, args)
    sweep_over.set()
    killer.join()
    assert killed, "the run never got to training, or finished before the worker was killed"
    assert result.exit_code == 0, result.output
    sweep_dir = sweep_dir_of(result.output)
    [row] = read_results(sweep_dir)
    assert row["status"] == "finished" and row["epochs"] == "8"
    aside = sweep_dir / "attempts" / f"{row['run']}-1"  # the dead attempt's record
    assert (aside / "metrics.csv").is_file() and not (aside / "summary.json").exists()
    assert not (aside / "checkpoints").exists()  # the retry continued from its last.pt
    before = (aside / "metrics.csv").read_text().splitlines()
    after = (sweep_dir / "runs" / row["run"] / "metrics.csv").read_text().splitlines()
    assert len(before) >= 2 and after[: len(before) - 1] == before[:-1]  # not retrained
    assert gone(killed["run"])  # its training process died with the worker
    log = run_log(sweep_dir, row)
    assert log.count("ray worker pid") == 2 and f"that attempt's record: {aside}" in log
    assert device_of(sweep_dir, row) == "cpu (2 threads)"


@pytest.mark.ray
def test_ctrl_c_cancels_the_ray_tasks_and_resume_finishes(ray_cluster, tiny_config, tmp_path):
    # a separate driver process on the same cluster: 2 CPUs a run, so one runs, one waits
    args = [str(tiny_config), "train.epochs=5000", "data.max_tokens=600", "--grid",
            "model.cell=rnn,gru", "--executor", "ray", "--address", ray_cluster,
            "--cpus-per-run", "2"]  # fmt: skip
    sweep_dir, _ = interrupt_sweep(args, tmp_path)
    rows = read_results(sweep_dir)
    assert [r["status"] for r in rows] == ["interrupted", "pending"]  # the 2nd never started
    assert rows[0]["error"].startswith("interrupted (SIGINT)")  # the run's own line: it saved
    assert gone(int(re.search(r"run pid (\d+)", run_log(sweep_dir, rows[0])).group(1)))
    assert (sweep_dir / "runs" / rows[0]["run"] / "checkpoints" / "last.pt").is_file()
    result = resume_sweep_quickly(sweep_dir, 5000, "--cpus-per-run", "1")  # on Ray again
    assert "on Ray" in result.output  # sweep.yaml said ray
    assert [r["status"] for r in read_results(sweep_dir)] == ["finished"] * 2
    assert not (sweep_dir / "attempts").exists()  # the interrupted run went on (--resume)
