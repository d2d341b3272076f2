"""Shared fixtures. The data directory is `../shared/data` beside the repository when it
exists (the offline copies of the public data sets), unless RNNLAB_DATA_DIR is set."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if "RNNLAB_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["RNNLAB_DATA_DIR"] = str(SHARED_DATA)
# One torch thread per pytest-xdist worker unless OMP_NUM_THREADS says otherwise: `-n auto`
# runs a worker per core, and workers whose torch threads spin on each other's cores run
# several times slower. Set before any test module imports torch; subprocesses inherit it.
if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture
def tiny_config() -> Path:
    return REPO / "configs" / "tiny.yaml"


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config text to a file and return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


SHARED = Path(os.environ.get("RNNLAB_DATA_DIR", SHARED_DATA))


@pytest.fixture(scope="session", autouse=True)
def writable_data_dir(tmp_path_factory):
    """Tests never write into the shared data directory (its read-only mode does not stop
    root): caches and generated data go to a session folder that links the shared files."""
    path = tmp_path_factory.mktemp("data_dir")
    if SHARED.is_dir():
        for item in SHARED.iterdir():
            if item.is_file():  # the data files only: not a cache folder left there earlier
                (path / item.name).symlink_to(item)
    os.environ["RNNLAB_DATA_DIR"] = str(path)
    yield path
    os.environ["RNNLAB_DATA_DIR"] = str(SHARED)


@pytest.fixture
def shared_data() -> Path:
    """The data directory with the real data sets (and the IMDB fixture): read it only."""
    return SHARED


@pytest.fixture
def fresh_data_dir(tmp_path, monkeypatch) -> Path:
    """An empty, writable data directory for data generated or cached on first use."""
    path = tmp_path / "data_dir"
    path.mkdir()
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests (`pytestmark = pytest.mark.usefixtures(...)`):
    on a busy 2-core machine, two spinning threads run ~8x slower. Results do not depend
    on it (CPU runs are bit for bit the same); the tests' speed does."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- polling: a test that waits for something fails when it never comes ---
def wait_until(condition, timeout_s: float, what: str, proc=None, every_s: float = 0.05) -> None:
    """Poll `condition()` until it is true. Fail the test, naming `what`, after
    `timeout_s`, or as soon as `proc` (a Popen the condition waits on) has exited."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(
                f"exit {proc.returncode} before {what}:\n{(out or '')[-2000:]}{err[-2000:]}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


# --- sweeps: results, and the Ctrl-C-then-resume pattern ---
def read_results(sweep_dir: Path) -> list[dict]:
    """results.csv's rows as written (strings)."""
    with open(sweep_dir / "results.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def sweep_dir_of(output: str) -> Path:
    """The sweep folder `rnnlab sweep` printed last."""
    return Path(output.strip().splitlines()[-1])


def interrupt_sweep(args: list[str], out: Path, timeout_s: float = 180) -> tuple[Path, str]:
    """Start `python -m rnnlab sweep ARGS --out OUT`, send SIGINT once its first run is
    training (a metrics.csv exists), and check that it stops with exit 130 and says how to
    resume. The sweep folder and the sweep's stderr."""
    cmd = [sys.executable, "-m", "rnnlab", "sweep", *args, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        training = lambda: any(out.glob("*/runs/*/metrics.csv"))  # noqa: E731
        wait_until(training, timeout_s, "the sweep's first run to train", proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stdout + stderr
    assert "rnnlab sweep --resume" in stderr
    [sweep_dir] = out.iterdir()
    return sweep_dir, stderr


def resume_sweep_quickly(sweep_dir: Path, epochs: int, *options: str):
    """Cut the base config's `train.epochs: EPOCHS` to 1, then `rnnlab sweep --resume` the
    sweep to its end; the CliRunner result (checked: exit 0)."""
    from typer.testing import CliRunner

    from rnnlab.cli import app

    base = sweep_dir / "base.yaml"
    text = base.read_text()
    assert f"epochs: {epochs}\n" in text
    base.write_text(text.replace(f"epochs: {epochs}\n", "epochs: 1\n"))
    result = CliRunner().invoke(app, ["sweep", "--resume", str(sweep_dir), *options])
    assert result.exit_code == 0, result.output
    return result


# --- the shell scripts' --dry-run: the rnnlab commands they would run, checked ---
def dry_run_commands(script: str, *args: str) -> list[list[str]]:
    """`scripts/SCRIPT --dry-run ARGS`: the rnnlab commands it prints (argv after
    `rnnlab`), each train and sweep one's config and overrides checked by the config
    loader, each sweep's grid expanded and every point checked too (no torch, no training)."""
    import shlex

    from rnnlab.config import load_config
    from rnnlab.sweep import expand, parse_grid_options

    cmd = ["bash", str(REPO / "scripts" / script), "--dry-run", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = [shlex.split(line) for line in done.stdout.splitlines() if line.startswith("rnnlab ")]
    for _, kind, *rest in lines:
        if kind not in ("train", "sweep"):
            continue
        config, grid, overrides, i = rest[0], [], [], 1
        while i < len(rest):
            if rest[i] in ("--out", "--run-dir", "--workers"):
                i += 2
                continue
            if rest[i] == "--grid":
                grid.append(rest[i + 1])
                i += 2
                continue
            if rest[i] != "--quiet":
                overrides.append(rest[i])
            i += 1
        assert (REPO / config).is_file(), config
        load_config(REPO / config, overrides)
        for point in expand(parse_grid_options(grid), [0]) if grid else []:
            load_config(REPO / config, [*overrides, *point.overrides()])
    return [line[1:] for line in lines]


# --- finished tiny runs, trained once per session (per xdist worker) and shared ---
@pytest.fixture(scope="session")
def session_run(tmp_path_factory):
    """session_run(CONFIG, *OVERRIDES): the folder of a finished run of configs/CONFIG with
    OVERRIDES, trained in this process the first time it is asked for, the same folder
    after. Shared by every test that asks: read it only; to change it, copy it
    (shutil.copytree) into the test's tmp_path."""
    from typer.testing import CliRunner

    from rnnlab.cli import app

    runs: dict[tuple, Path] = {}

    def get(config: str, *overrides: str) -> Path:
        if (config, overrides) not in runs:
            out = tmp_path_factory.mktemp("session_runs")
            argv = ["train", str(REPO / "configs" / config), *overrides, "--out", str(out)]
            result = CliRunner().invoke(app, [*argv, "--quiet"])
            assert result.exit_code == 0, result.output
            folder = Path(result.stdout.strip().splitlines()[-1])
            assert folder.parent == out  # the run folder is made under --out
            runs[config, overrides] = folder
        return runs[config, overrides]

    return get


# the shared tiny language model: 2 epochs of GRU(8) on 1,200 characters, 2 log points
TINY_LM = ("tiny.yaml", "model.hidden_size=8", "train.epochs=2", "data.max_tokens=1200")
# the shared tiny DigitSum classifier: 1 epoch, 2 log points (eval every 10 steps)
TINY_DIGITSUM = ("tiny_digitsum.yaml", "train.epochs=1")


@pytest.fixture(scope="session")
def tiny_lm_run(session_run) -> Path:
    """A finished tiny language model (TINY_LM), shared: read it only, or copy it."""
    return session_run(*TINY_LM)


@pytest.fixture(scope="session")
def tiny_digitsum_run(session_run) -> Path:
    """A finished tiny DigitSum classifier (TINY_DIGITSUM), shared: read it only, or copy it."""
    return session_run(*TINY_DIGITSUM)


@pytest.fixture(scope="session")
def tiny_imdb_run(session_run) -> Path:
    """A finished run of configs/tiny_imdb.yaml as shipped, shared: read it only, or copy it."""
    return session_run("tiny_imdb.yaml")


# the shared tiny sweep's arguments: 2 cells x 2 seeds of a 1-epoch tiny.yaml, 2 workers
TINY_SWEEP_FAST = ["train.epochs=1", "data.max_tokens=600", "train.sample_len=5"]
TINY_SWEEP_GRID = ["--grid", "model.cell=rnn,gru", "--seeds", "0,1", "--workers", "2"]


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory) -> Path:
    """A finished 4-run local sweep of configs/tiny.yaml (TINY_SWEEP_FAST, TINY_SWEEP_GRID),
    shared. tests/test_sweep.py's resume test deletes one run's summary.json and resumes
    it in place: the run is trained again to the same numbers (CPU runs are deterministic)."""
    from typer.testing import CliRunner

    from rnnlab.cli import app

    out = tmp_path_factory.mktemp("sweeps")
    args = ["sweep", str(REPO / "configs" / "tiny.yaml"), *TINY_SWEEP_FAST, *TINY_SWEEP_GRID]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return sweep_dir_of(result.output)
