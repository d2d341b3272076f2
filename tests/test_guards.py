"""Issue 17's guarantees that need real processes (docs/reliability.md): one writer per
run and sweep folder, storage faults, signal storms, broken and narrow output streams,
bounded memory on hostile inputs."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.runs import Run

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
TINY = REPO / "configs" / "tiny.yaml"


def cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """`python -m rnnlab ARGS` in a subprocess, stdout and stderr as text pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "rnnlab", *args], cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )  # fmt: skip


def wait_for(path: Path, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=60)


# --- one writer per folder ---
def test_a_second_writer_on_a_live_run_is_refused_naming_the_pid(tmp_path):
    folder = tmp_path / "run"
    first = cli("train", str(TINY), "train.epochs=500", "--run-dir", str(folder), "--quiet")
    try:
        wait_for(folder / "checkpoints" / "last.pt", first)
        second = cli("train", "--resume", str(folder))
        out, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        assert err.splitlines() == [err.strip()] and f"process {first.pid}" in err, err
        # a reader needs no lock
        reader = cli("predict", "--run", str(folder), "--prefix", "time", "-n", "3",
                     "--checkpoint", "last")  # fmt: skip
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0 and out.startswith("time"), err
    finally:
        out, err = stop(first)
    assert first.returncode == 143 and "Traceback" not in err, err
    # the lock dies with its process: now the resume is allowed
    again = cli("train", "--resume", str(folder), "train.epochs=1", "--quiet")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 2 and "fewer than" in err, err  # refused for its value only


def test_a_second_sweep_resume_on_a_live_sweep_is_refused(tmp_path):
    sweep = cli("sweep", str(TINY), "train.epochs=500", "--grid", "model.hidden_size=4,6",
                "--out", str(tmp_path), "--workers", "1")  # fmt: skip
    try:
        logs = tmp_path.glob("*/logs/*.log")
        deadline = time.time() + 60
        while not any(True for _ in tmp_path.glob("*/runs/*/checkpoints/last.pt")):
            assert sweep.poll() is None and time.time() < deadline, sweep.communicate()
            time.sleep(0.05)
        folder = next(tmp_path.glob("*/sweep.yaml")).parent
        second = cli("sweep", "--resume", str(folder))
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2 and f"process {sweep.pid}" in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert (next(folder.glob("runs/*")) / "config.yaml").is_file()  # nothing moved aside
        assert not (folder / "attempts").exists()
    finally:
        stop(sweep)
    del logs


# --- storage faults ---
def full_disk_at(monkeypatch, name: str, after: int = 0, code: int = errno.ENOSPC) -> None:
    """Every rename onto a file called `name` after the first `after` fails with `code`
    (the disk fills up while rnnlab writes it)."""
    real, seen = os.replace, []

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == name:
            seen.append(dst)
            if len(seen) > after:
                raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_a_full_disk_mid_run_is_one_line_a_failed_summary_and_the_old_last_pt(
    tmp_path, monkeypatch
):
    folder = tmp_path / "run"
    full_disk_at(monkeypatch, "last.pt", after=1)  # epoch 1's last.pt is written, not 2's
    result = runner.invoke(app, ["train", str(TINY), "--run-dir", str(folder), "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: cannot write {folder / 'checkpoints' / 'last.pt'}: No space left on device"
    ]
    summary = Run(folder).read_summary()
    assert summary["status"] == "failed" and "No space left" in summary["error"]
    assert Run(folder).load_checkpoint("last")["epoch"] == 1  # the previous one, whole
    assert not list(folder.rglob("*.tmp"))
    monkeypatch.undo()
    resumed = runner.invoke(app, ["train", "--resume", str(folder), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert Run(folder).read_summary()["status"] == "finished"


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.ENAMETOOLONG])
def test_an_unwritable_out_folder_is_one_line(tmp_path, monkeypatch, code):
    real = os.mkdir

    def mkdir(path, *args, **kwargs):
        if str(tmp_path / "out") in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    for argv in (["train", str(TINY)], ["sweep", str(TINY), "--grid", "seed=1,2"]):
        if argv[0] == "sweep":
            argv = ["sweep", str(TINY), "--grid", "model.hidden_size=4,6"]
        result = runner.invoke(app, [*argv, "--out", str(tmp_path / "out" / "x")])
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: cannot ") and os.strerror(code) in line, line


def test_compare_out_an_existing_folder_is_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    argv = ["train", str(TINY), "train.epochs=1", "--run-dir", str(folder), "--quiet"]
    assert runner.invoke(app, argv).exit_code == 0
    (tmp_path / "taken").mkdir()
    result = runner.invoke(app, ["compare", str(folder), "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2, result.output
    assert "Is a directory" in result.stderr and len(result.stderr.splitlines()) == 1
