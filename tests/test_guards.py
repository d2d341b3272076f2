"""The guarantees that need real processes (docs/reliability.md): one writer per
run and sweep folder, storage faults, signal storms, broken and narrow output streams,
bounded memory on hostile inputs."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
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
        # the second writer and the reader are this process (in-process CLI calls): the
        # lock is the first process's, which is what they meet
        second = runner.invoke(app, ["train", "--resume", str(folder)])
        err = second.stderr
        assert second.exit_code == 2, second.output
        assert err.splitlines() == [err.strip()] and f"process {first.pid}" in err, err
        # a reader needs no lock
        argv = ["predict", "--run", str(folder), "--prefix", "time", "-n", "3"]
        reader = runner.invoke(app, [*argv, "--checkpoint", "last"])
        assert reader.exit_code == 0 and reader.stdout.startswith("time"), reader.output
    finally:
        out, err = stop(first)
    assert first.returncode == 143 and "Traceback" not in err, err
    # the lock dies with its process: now the resume is allowed
    again = runner.invoke(app, ["train", "--resume", str(folder), "train.epochs=1", "--quiet"])
    assert again.exit_code == 2 and "fewer than" in again.stderr, again.output  # its value only


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
        second = runner.invoke(app, ["sweep", "--resume", str(folder)])  # in this process
        err = second.stderr
        assert second.exit_code == 2 and f"process {sweep.pid}" in err, second.output
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


# --- signal storms ---
STORM_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def storm_trial(folder: Path, seed: int) -> None:
    """A training hit by a burst of 3-15 signals of random kinds, 0-5 ms apart, either
    while it starts (imports, data) or once its first last.pt exists."""
    rng = random.Random(seed)
    proc = cli("train", str(TINY), "train.epochs=1000", "model.hidden_size=8",
               "--run-dir", str(folder), "--quiet")  # fmt: skip
    if seed % 3 == 0:
        time.sleep(rng.uniform(0.2, 1.5))  # during start-up
    else:
        wait_for(folder / "checkpoints" / "last.pt", proc)
        time.sleep(rng.uniform(0, 0.3))
    for _ in range(rng.randint(3, 15)):
        if proc.poll() is None:
            proc.send_signal(rng.choice(STORM_SIGNALS))
        time.sleep(rng.uniform(0, 0.005))
    out, err = proc.communicate(timeout=120)
    where = f"trial {seed}: exit {proc.returncode}, stderr {err!r}"
    if proc.returncode < 0:  # killed while the interpreter booted, before rnnlab's code ran
        assert not err and not folder.exists(), where
        return
    assert proc.returncode in (129, 130, 143), where
    assert "Traceback" not in err and "Exception ignored" not in err, where
    assert len(err.splitlines()) <= 1, where
    if (folder / "checkpoints" / "last.pt").is_file():
        assert Run(folder).load_checkpoint("last")["step"] > 0, where
        summary = Run(folder).read_summary()
        assert summary["status"] == "interrupted", where
        assert err.startswith("interrupted (SIG") and f"--resume {folder}" in err, where
    elif folder.exists():  # stopped while the run folder was being set up
        assert Run(folder).read_summary().get("status") in ("interrupted", None), where


def test_signal_storms_never_lose_a_run(tmp_path):
    """9 seeded trials, two at a time (3 during start-up, 6 mid-run; RNNLAB_STORM_TRIALS
    sets more; the test below hails the shutdown): every stop ends with a loadable last.pt,
    an interrupted summary.json and one line, or (during start-up) silently or with one line."""
    with ThreadPoolExecutor(2) as pool:
        n = int(os.environ.get("RNNLAB_STORM_TRIALS", "9"))  # 77 s for 20 on a slow host
        trials = [pool.submit(storm_trial, tmp_path / f"run{i}", i) for i in range(n)]
        for trial in trials:
            trial.result()


IMPORT_STORM = """import os, signal, sys, threading, time
from rnnlab.__main__ import HoldSignalsWhileTorchLoads
HoldSignalsWhileTorchLoads.install()
def handler(signum, frame):  # raises once torch's C++ start-up (torch.distributed) is under way
    if "torch.distributed" in sys.modules:
        raise KeyboardInterrupt
signal.signal(signal.SIGINT, handler)
done = threading.Event()
def storm():
    while not done.is_set():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.0002)
threading.Thread(target=storm, daemon=True).start()
try:
    import torch
    outcome = "imported"
except KeyboardInterrupt:
    outcome = "interrupted"
done.set()
signal.signal(signal.SIGINT, signal.SIG_IGN)
print(outcome, torch.ones(2).sum().item() if outcome == "imported" else sys.modules.get("torch._C") is not None)
"""


def test_a_signal_during_torch_import_is_handled_after_it():
    """A handler that raises inside torch's C++ start-up (`torch._C._c10d_init`) used to
    end the process in std::terminate (SIGABRT: "terminate called after throwing an
    instance of 'pybind11::error_already_set'"); a sweep stopping a run that was starting
    saw exit -6 and recorded it as failed. rnnlab's entry point holds the signals while
    torch loads and hands the first one to its handler just after. (Without the hold this
    storm aborted 2 of 4 imports here.)"""
    for _ in range(3):
        result = subprocess.run([sys.executable, "-c", IMPORT_STORM], capture_output=True,
                                text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert "terminate called" not in result.stderr
        assert result.stdout.split() == ["interrupted", "True"], result.stdout + result.stderr


# --- output streams ---
def test_a_closed_stdout_pipe_drops_output_and_the_run_finishes(tmp_path):
    """`rnnlab train CFG | head -1`: the reader goes away after one line; the run trains
    on with its output dropped, exits 0, and its folder is whole."""
    folder = tmp_path / "run"
    proc = cli("train", str(TINY), "train.epochs=2", "--run-dir", str(folder))
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert first.startswith("device:") and "Traceback" not in err and not err.strip(), err
    assert Run(folder).read_summary()["status"] == "finished"
    assert Run(folder).load_checkpoint("best")["step"] > 0


def test_an_ascii_stdout_escapes_a_chinese_run(tmp_path):
    corpus = tmp_path / "zh.txt"
    corpus.write_text("周杰伦的歌词很好听，我们一起唱歌吧。\n" * 60, encoding="utf-8")
    config = tmp_path / "zh.yaml"
    config.write_text(
        f"name: 周杰伦\ndata: {{dataset: text, path: {corpus}, batch_size: 4, num_steps: 5}}\n"
        "model: {cell: gru, hidden_size: 8}\ntrain: {epochs: 1, sample_len: 4, "
        "prefixes: ['周杰']}\n",
        encoding="utf-8",
    )
    proc = cli("train", str(config), "--out", str(tmp_path / "out"),
               env={"PYTHONIOENCODING": "ascii"})  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "\\u5468\\u6770" in out and "Traceback" not in err, out + err
    (run,) = (tmp_path / "out").iterdir()
    assert run.name.startswith("周杰伦") and Run(run).read_summary()["status"] == "finished"


# --- bounded memory on hostile inputs ---
PEAK = """import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
print(r.stderr, end="")"""


def peak_mb(tmp_path: Path, *args: str, **env: str) -> tuple[int, int, str]:
    """(exit code, peak RSS in MB, stderr) of `python -m rnnlab ARGS`, measured by a fresh
    parent so no earlier child's peak counts."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK, sys.executable, "-m", "rnnlab", *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **env},
    )  # fmt: skip
    first, _, err = result.stdout.partition("\n")
    code, mb = (int(x) for x in first.split())
    return code, mb, err


def test_hostile_inputs_stay_in_bounded_memory(tmp_path):
    """Each of these grew to gigabytes before they were bounded; now each is one line within the
    memory of Python plus torch."""
    from test_bad_input import alias_bomb

    (tmp_path / "bomb.yaml").write_text(alias_bomb().replace("{tmp}", str(tmp_path)))
    base = "name: x\nmodel: {hidden_size: 8}\ndata: "
    (tmp_path / "zero.yaml").write_text(base + "{dataset: text, path: /dev/zero}\n")
    with zipfile.ZipFile(tmp_path / "big.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("jaychou_lyrics.txt", "w") as member:
            for _ in range(64):
                member.write(b"a" * (1 << 20))  # 64 MB that deflate to 64 KB
    (tmp_path / "zip.yaml").write_text(base + f"{{dataset: jaychou, path: {tmp_path}/big.zip}}\n")
    cases = [
        (["train", "bomb.yaml"], {}, 150, "expands to more than"),
        (["train", "zero.yaml"], {}, 700, "not a regular file"),
        (["train", "zip.yaml"], {"RNNLAB_MAX_DATA_BYTES": "8000000"}, 700, "over the 8,000,000"),
        (
            ["train", str(TINY), "model.hidden_size=200000"],
            {},
            700,
            "the model does not fit in memory",
        ),
    ]
    for argv, env, limit_mb, message in cases:
        code, mb, err = peak_mb(tmp_path, *argv, **env)
        assert code == 2 and message in err and len(err.splitlines()) == 1, (argv, err)
        assert mb < limit_mb, f"{argv}: peak {mb} MB, limit {limit_mb} MB"


# --- names ---
def test_sweep_point_names_are_unique():
    from rnnlab.sweep.grid import expand

    points = expand({"name": ["a b", "a_b", "a+b", "a/b"]}, [0, 1])
    names = [p.name for p in points]
    assert len(set(names)) == len(names) == 8
    assert "name-a_b_seed-0" in names  # a slug that lost nothing keeps its plain name
    long = expand({"name": ["x" * 300]}, [0])[0].name
    assert len(long) <= 130


# --- run folders changed under rnnlab ---
def small_corpus_run(tmp_path: Path, *overrides: str) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the time traveller smiled at us\n" * 30)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: c\ndata: {{dataset: text, path: {corpus}, batch_size: 4, num_steps: 5}}\n"
        "model: {cell: gru, hidden_size: 8}\ntrain: {epochs: 1, sample_len: 3}\n"
    )
    folder = tmp_path / "run"
    argv = ["train", str(config), *overrides, "--run-dir", str(folder), "--quiet"]
    result = runner.invoke(app, argv)
    assert result.exit_code in (0, 130), result.output
    return folder, corpus


def test_a_deleted_vocab_is_restored_and_a_changed_corpus_refused(tmp_path):
    folder, corpus = small_corpus_run(tmp_path)
    vocab = (folder / "vocab.json").read_text()
    (folder / "vocab.json").unlink()
    result = runner.invoke(app, ["train", "--resume", str(folder), "train.epochs=2"])
    assert result.exit_code == 0, result.output
    assert "restored vocab.json from last.pt" in result.stdout
    assert (folder / "vocab.json").read_text() == vocab
    corpus.write_text("the time traveller smiled at us\n".replace("t", "z") * 30)
    result = runner.invoke(app, ["train", "--resume", str(folder), "train.epochs=3"])
    assert result.exit_code == 2, result.output
    assert "the data now gives a different vocab.json" in result.stderr


def test_corrupt_summary_fields_do_not_lose_a_resumed_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_STOP_AFTER_STEPS", "3")
    folder, _ = small_corpus_run(tmp_path)
    monkeypatch.delenv("RNNLAB_STOP_AFTER_STEPS")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    summary.update(wall_s="soon", best=[1, 2], at="here")
    (folder / "summary.json").write_text(json.dumps(summary))
    result = runner.invoke(app, ["train", "--resume", str(folder), "--quiet"])
    assert result.exit_code == 0, result.output
    done = Run(folder).read_summary()
    assert done["status"] == "finished" and isinstance(done["wall_s"], float)


def test_repeated_ctrl_c_on_a_sweep_leaves_no_run_behind(tmp_path):
    sweep = cli("sweep", str(TINY), "train.epochs=500", "--grid", "model.hidden_size=4,6",
                "--out", str(tmp_path), "--workers", "2")  # fmt: skip
    deadline = time.time() + 90
    while len(list(tmp_path.glob("*/runs/*/checkpoints/last.pt"))) < 2:
        assert sweep.poll() is None and time.time() < deadline, sweep.communicate()
        time.sleep(0.05)
    for _ in range(6):  # Ctrl-C, again and again
        sweep.send_signal(signal.SIGINT)
        time.sleep(0.02)
    out, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip().splitlines()[-1].startswith("sweep interrupted; finish it with")
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _mentions(p, tmp_path)]
    assert not left, "runs left behind"
    results = (next(tmp_path.glob("*/results.csv"))).read_text()
    assert results.count(",interrupted,") == 2, results
    for run in tmp_path.glob("*/runs/*"):
        assert Run(run).read_summary()["status"] == "interrupted"


def _mentions(proc: Path, text) -> bool:
    try:
        return str(text) in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False


def test_predict_streams_in_constant_memory(tmp_path):
    """30,000 generated characters cost no more memory than 10 (generating the whole text
    first cost ~1.2 KB a token: 36 MB here), and the stream is the same text."""
    from rnnlab.inference.predict import load_model
    from rnnlab.tasks.generate import generate

    folder, _ = small_corpus_run(tmp_path)
    peaks = {}
    for n in (10, 30_000):
        argv = ["predict", "--run", str(folder), "--prefix", "the", "-n", str(n)]
        code, peaks[n], err = peak_mb(tmp_path, *argv)
        assert code == 0, err
    assert peaks[30_000] - peaks[10] < 12, peaks
    result = runner.invoke(app, ["predict", "--run", str(folder), "--prefix", "the", "-n", "600",
                                 "--temperature", "0.8", "--top-k", "3"])  # fmt: skip
    _, _, artifacts, model = load_model(Run.open(folder), "best", torch.device("cpu"))
    whole = generate(
        model, artifacts.vocab, list("the"), 600, 0.8, 3, torch.Generator().manual_seed(0)
    )
    assert result.stdout == "the" + "".join(whole) + "\n"  # the pieces make the whole text


def test_compare_leaves_out_metrics_rows_with_a_non_numeric_epoch(tmp_path):
    folder, _ = small_corpus_run(tmp_path)
    path = folder / "metrics.csv"
    header, row = path.read_text().splitlines()[:2]
    path.write_text(f"{header}\n{row}\nepoch-two,{row.split(',', 1)[1]}\n")
    assert len(Run(folder).read_metrics()) == 1
    result = runner.invoke(app, ["compare", str(folder), "--metric", "train_ppl",
                                 "--out", str(tmp_path / "c.png")])  # fmt: skip
    assert result.exit_code == 0, result.output


def hail_until_exit(folder: Path, seed: int) -> subprocess.CompletedProcess:
    """A tiny training hit by a signal of a random kind every 0-2 ms from its first last.pt
    until it has exited: the stop, Python's shutdown and all."""
    rng = random.Random(seed)
    proc = cli("train", str(TINY), "train.epochs=1000", "model.hidden_size=8",
               "--run-dir", str(folder), "--quiet")  # fmt: skip
    wait_for(folder / "checkpoints" / "last.pt", proc)
    while proc.poll() is None:
        try:
            proc.send_signal(rng.choice(STORM_SIGNALS))
        except ProcessLookupError:
            break
        time.sleep(rng.uniform(0, 0.002))
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_signals_until_the_process_has_exited_never_kill_it_after_its_line(tmp_path):
    """Signals that keep coming while a stopped run shuts down are ignored: exit 129/130/143
    with its one line, never killed by one (exit -N: Python resets a handler still set at
    exit to SIG_DFL) nor an 'Exception ignored' from a handler raising in the shutdown."""
    with ThreadPoolExecutor(2) as pool:
        trials = [pool.submit(hail_until_exit, tmp_path / f"run{i}", i) for i in range(6)]
        for i, trial in enumerate(trials):
            result = trial.result()
            where = f"trial {i}: exit {result.returncode}, stderr {result.stderr!r}"
            assert result.returncode in (129, 130, 143), where
            assert len(result.stderr.splitlines()) == 1, where
            assert result.stderr.startswith("interrupted (SIG") and "--resume" in result.stderr, (
                where
            )
