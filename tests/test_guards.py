"""Issue 17's guarantees that need real processes (docs/reliability.md): one writer per
run and sweep folder, storage faults, signal storms, broken and narrow output streams,
bounded memory on hostile inputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rnnlab.runs import Run

REPO = Path(__file__).resolve().parents[1]
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
