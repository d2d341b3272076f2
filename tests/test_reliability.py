"""What rnnlab guarantees (docs/reliability.md): checkpoints cannot run code, the config
loader only ever raises its own error, files are replaced atomically, a run folder is never
overwritten, and the same seed gives the same run on CPU. (Interruptions and resumption:
tests/test_resume.py; nan losses: tests/test_divergence.py.)"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import config_from_dict, load_config
from rnnlab.config.load import parse_overrides, set_dotted
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run, load_checkpoint
from rnnlab.runs.fileio import write_with
from rnnlab.runs.progress import Reporter
from rnnlab.training.session import train

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this object creates a file: proof that loading ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "trap": Payload(marker)}, path)
    with pytest.raises(RnnlabError, match="refused to load .*could run code"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [(b"", "truncated or not a checkpoint"), (b"garbage" * 100, "truncated or not a checkpoint")],
)
def test_garbage_checkpoints_are_user_errors(tmp_path, content, message):
    (tmp_path / "bad.pt").write_bytes(content)
    with pytest.raises(RnnlabError, match=message):
        load_checkpoint(tmp_path / "bad.pt")


def test_a_truncated_checkpoint_is_a_user_error(tmp_path):
    torch.save({"model": {"w": torch.zeros(1000)}}, tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(RnnlabError, match="truncated or not a checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("old\n")

    def crash(f):
        f.write(b"half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_with(path, crash)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no temporary left


KEYS = ["data", "model", "optim", "train", "sweep", "name", "seed", "device", "dataset",
        "cell", "lr", "hidden_size", "embedding", "grid", "seeds", "clip", "max_tokens"]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8)
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=5), st.integers())
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, trees, max_size=5))
def test_fuzzed_configs_raise_only_rnnlab_errors(raw):
    try:
        config_from_dict(raw)
    except RnnlabError as err:
        assert "\n" not in str(err)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=3))
def test_fuzzed_overrides_raise_only_rnnlab_errors(items):
    raw: dict = {}
    try:
        for key, value in parse_overrides(items).items():
            set_dotted(raw, key, value)
        config_from_dict(raw)
    except RnnlabError as err:
        assert "\n" not in str(err)


def test_a_run_folder_is_never_overwritten(tiny_config, tmp_path):
    first, second = Run.create(tmp_path, "same"), Run.create(tmp_path, "same")  # same second
    assert first.dir != second.dir and first.dir.name in second.dir.name
    (first.dir / "mine.txt").write_text("keep")
    with pytest.raises(RnnlabError, match="already exists; it is never overwritten"):
        train(load_config(tiny_config), tmp_path, Reporter(quiet=True), run_dir=first.dir)
    assert [p.name for p in first.dir.iterdir()] == ["mine.txt"]


def test_the_same_seed_gives_the_same_run_bit_for_bit(tiny_config, tmp_path, one_thread):
    """Two CPU runs of tiny.yaml with one seed: identical metrics (but for timings) and
    identical weights in last.pt. (On CUDA this is documented, not promised.)"""
    runs = [
        train(load_config(tiny_config), tmp_path / str(i), Reporter(quiet=True)) for i in (1, 2)
    ]
    timing = {"tokens_per_s", "train_s"}
    a, b = (
        [{k: v for k, v in r.items() if k not in timing} for r in run.read_metrics()]
        for run in runs
    )
    assert a == b and len(a) == 3
    wa, wb = (run.load_checkpoint("last")["model"] for run in runs)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert runs[0].samples_path.read_text() == runs[1].samples_path.read_text()


# --- the study database of an Optuna search: damaged, emptied or foreign is refused ---


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory) -> Path:
    """A finished one-trial Optuna search on the tiny DigitSum task."""
    from typer.testing import CliRunner

    from rnnlab.cli import app

    out = tmp_path_factory.mktemp("search")
    argv = ["sweep", str(REPO / "configs" / "tiny_digitsum.yaml"), "--search", "optuna",
            "--trials", "1", "--workers", "1", "--space", "optim.lr=choice:0.01,0.02",
            "train.epochs=1", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def _random_bytes(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size))


def _cut_short(db: Path) -> None:
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])


def _emptied(db: Path) -> None:
    db.write_bytes(b"")


def _foreign(db: Path) -> None:
    import sqlite3

    with sqlite3.connect(db) as con:
        con.execute("UPDATE studies SET study_name = 'someone-else'")


def _fresh_study(db: Path) -> None:
    """A whole database with a study of the right name and no trials: it disagrees with
    the finished run folder."""
    import optuna

    db.unlink()
    optuna.create_study(storage=f"sqlite:///{db}", study_name="rnnlab")


def _missing(db: Path) -> None:
    db.unlink()


@pytest.mark.parametrize(
    "damage, expected",
    [
        (_random_bytes, "is not an SQLite database"),
        (_cut_short, "is damaged (sqlite: "),
        (_emptied, "is empty (0 bytes)"),
        (_foreign, "holds no study named 'rnnlab' (only someone-else)"),
        (_fresh_study, "disagrees with the run folders: trial-000 is finished but the study says no such trial"),
        (_missing, "is missing but 1 trials ran"),
    ],
)  # fmt: skip
def test_a_damaged_study_is_refused_in_one_line_and_nothing_is_written(
    finished_search, tmp_path, damage, expected
):
    from typer.testing import CliRunner

    from rnnlab.cli import app

    sweep = tmp_path / "sweep"
    shutil.copytree(finished_search, sweep)
    damage(sweep / "study.db")
    before = {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file() and p.name != ".lock"}
    result = CliRunner().invoke(app, ["sweep", "--resume", str(sweep)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert "start a new search" in lines[0]  # how to recover (no backup yet)
    after = {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before


def test_a_resume_backs_up_the_study_and_results_and_the_backup_is_offered(
    finished_search, tmp_path
):
    from typer.testing import CliRunner

    from rnnlab.cli import app

    sweep = tmp_path / "sweep"
    shutil.copytree(finished_search, sweep)
    results = (sweep / "results.csv").read_text()
    result = CliRunner().invoke(app, ["sweep", "--resume", str(sweep)])
    assert result.exit_code == 0, result.output
    assert _statuses(sweep) == {"trial-000": "finished"}  # the finished trial stays finished
    assert (sweep / "results.csv.bak").read_text() == results
    assert (sweep / "study.db.bak").read_bytes() == (sweep / "study.db").read_bytes()
    _emptied(sweep / "study.db")
    refused = CliRunner().invoke(app, ["sweep", "--resume", str(sweep)])
    assert refused.exit_code == 2
    assert f"cp {sweep}/study.db.bak {sweep}/study.db" in refused.stderr
    shutil.copyfile(sweep / "study.db.bak", sweep / "study.db")
    again = CliRunner().invoke(app, ["sweep", "--resume", str(sweep)])
    assert again.exit_code == 0, again.output
    assert _statuses(sweep) == {"trial-000": "finished"}


def _statuses(sweep: Path) -> dict:
    import csv

    with open(sweep / "results.csv", newline="") as f:
        return {row["run"]: row["status"] for row in csv.DictReader(f)}


# --- a sweep child killed with kill -9 continues from its last.pt on --resume ---


def test_a_killed_sweep_child_continues_from_its_last_pt(tmp_path):
    import csv
    import signal
    import subprocess
    import sys
    import time

    from typer.testing import CliRunner

    from rnnlab.cli import app

    argv = [sys.executable, "-m", "rnnlab", "sweep", str(REPO / "configs" / "tiny.yaml"),
            "--grid", "model.hidden_size=8", "train.epochs=500",
            "--out", str(tmp_path)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    sweep_proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not list(tmp_path.glob("*/runs/*/checkpoints/last.pt")) and time.time() < deadline:
        time.sleep(0.05)
    last = list(tmp_path.glob("*/runs/*/checkpoints/last.pt"))
    assert last, "no last.pt within 120 s"
    run_dir = last[0].parents[1]
    sweep = run_dir.parents[1]
    os.kill(int((run_dir / ".lock").read_text()), signal.SIGKILL)  # the child's PID
    sweep_proc.communicate(timeout=60)
    assert sweep_proc.returncode == 1  # the sweep saw a failed run
    with open(run_dir / "metrics.csv", newline="") as f:
        before = list(csv.DictReader(f))
    assert before, "killed before its first metrics row"
    epochs = int(before[-1]["epoch"]) + 1  # one epoch more than it began
    base = (sweep / "base.yaml").read_text().replace("epochs: 500", f"epochs: {epochs}")
    (sweep / "base.yaml").write_text(base)
    result = CliRunner().invoke(app, ["sweep", "--resume", str(sweep)])
    assert result.exit_code == 0, result.output
    with open(run_dir / "metrics.csv", newline="") as f:
        after = list(csv.DictReader(f))
    assert after[: len(before)] == before  # continued, not retrained from epoch 1
    assert int(after[-1]["epoch"]) == epochs
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"
    kept = sweep / "attempts" / f"{run_dir.name}-1"  # the killed attempt's record is kept
    assert (kept / "metrics.csv").is_file() and not (kept / "checkpoints").exists()
    assert (kept / "sweep.log").is_file()


# --- a text corpus becomes token ids in a small constant of memory per byte ---

ASCII_TEXT = "the time traveller said to us and of a machine\n"
CHINESE_TEXT = "\u65f6\u95f4\u65c5\u884c\u8005 \u5bf9\u6211\u4eec\u8bf4 \u673a\u5668\n"


@pytest.mark.parametrize(
    "text, token", [(ASCII_TEXT, "char"), (ASCII_TEXT, "word"), (CHINESE_TEXT, "char"),
                    (CHINESE_TEXT, "word")],
)  # fmt: skip
def test_a_corpus_loads_in_bounded_memory_per_byte(tmp_path, text, token):
    """The peak memory of turning a corpus into token ids stays under the bound the data
    reader checks free memory against; the ids are kept in one byte each."""
    import tracemalloc

    from rnnlab.data import DATASETS
    from rnnlab.data.safe_read import LOAD_BYTES_PER_BYTE

    path = tmp_path / "corpus.txt"
    path.write_text(text * (1_500_000 // len(text.encode())), encoding="utf-8")
    cfg = load_config(REPO / "configs" / "tiny.yaml", ["data.dataset=text", f"data.path={path}",
                      f"data.token={token}", "data.max_tokens=null"])  # fmt: skip
    tracemalloc.start()
    try:
        corpus = DATASETS.get("text")().load(cfg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    per_byte = peak / path.stat().st_size
    assert per_byte < LOAD_BYTES_PER_BYTE, f"{per_byte:.1f} bytes per byte of corpus"
    assert corpus.split("train").dtype == np.uint8


def test_a_corpus_too_big_for_free_memory_is_refused_before_reading(tmp_path, monkeypatch):
    from rnnlab.data import safe_read

    path = tmp_path / "corpus.txt"
    path.write_text(ASCII_TEXT * 1000)
    monkeypatch.setattr(safe_read, "available_memory", lambda: 100_000)
    with pytest.raises(RnnlabError, match="loading it takes about .* bytes per byte"):
        safe_read.read_bytes(path)


@pytest.mark.parametrize(
    "raw, name",
    [(b"\xef\xbb\xbf" + b"ab\r\ncd\r\n" * 200, "bom-crlf"), (b"ab\rcd\r" * 200, "cr"),
     (b"ab\ncd\n" * 200, "lf")],
)  # fmt: skip
@pytest.mark.parametrize("dataset", ["text", "shakespeare"])
def test_line_ends_and_a_bom_are_not_tokens(tmp_path, raw, name, dataset):
    from rnnlab.data import DATASETS

    path = tmp_path / f"{name}.txt"
    path.write_bytes(raw)
    cfg = load_config(REPO / "configs" / "tiny.yaml", [f"data.dataset={dataset}",
                      f"data.path={path}", "data.max_tokens=null"])  # fmt: skip
    vocab = DATASETS.get(dataset)().load(cfg).vocab
    assert "\r" not in vocab.token_to_idx and "\ufeff" not in vocab.token_to_idx
    assert {"a", "b", "c", "d", "\n"} <= set(vocab.token_to_idx)


def test_ptb_line_ends_are_normalised(tmp_path):
    import zipfile

    from rnnlab.data import DATASETS

    with zipfile.ZipFile(tmp_path / "ptb.zip", "w") as archive:
        for split in ("train", "valid", "test"):
            archive.writestr(f"ptb/ptb.{split}.txt", "\ufeff" + "a b c\r\nd e\r\n" * 50)
    cfg = load_config(REPO / "configs" / "tiny.yaml", ["data.dataset=ptb",
                      f"data.path={tmp_path / 'ptb.zip'}", "data.token=word"])  # fmt: skip
    vocab = DATASETS.get("ptb")().load(cfg).vocab
    assert not [t for t in vocab.token_to_idx if "\r" in t or "\ufeff" in t]


# --- one place for file errors: the path and the cause in one line ---


def test_a_background_writer_failure_is_one_warning_line_naming_the_path(capsys):
    import errno
    import threading

    from rnnlab.runs.fileio import background_errors

    def fail():
        raise OSError(errno.ENOSPC, "No space left on device", b"/runs/x/tensorboard/events")

    previous, threading.excepthook = threading.excepthook, background_errors
    try:
        thread = threading.Thread(target=fail)
        thread.start()
        thread.join()
    finally:
        threading.excepthook = previous
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "warning: a background writer failed: /runs/x/tensorboard/events: No space left on device"
    ]


def test_a_resumed_tensorboard_run_with_a_file_in_the_way_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from rnnlab.cli import app

    argv = ["train", str(REPO / "configs" / "tiny.yaml"), "train.epochs=1", "model.hidden_size=4",
            "--out", str(tmp_path), "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    (run / "tensorboard").write_text("in the way")
    resumed = CliRunner().invoke(
        app, ["train", "--resume", str(run), "train.epochs=2", "--tensorboard", "--quiet"]
    )
    assert resumed.exit_code == 2, resumed.output
    assert "Traceback" not in resumed.output
    assert resumed.stderr.splitlines()[-1] == (
        f"error: cannot write {run}/tensorboard: a file is in the way where a folder is needed"
    )


# --- strict JSON, schedules that make no sense, pasteable resume hints ---


def test_non_finite_figures_are_written_as_null_with_one_warning(tmp_path, capsys):
    import json as json_module

    run = Run(tmp_path)
    summary = {
        "status": "finished",
        "time_limit_s": float("inf"),
        "best": {"val_ppl": float("nan")},
    }
    run.write_summary(summary)
    run.write_summary(summary)  # written again: the warning is not repeated
    strict = json_module.loads(
        (tmp_path / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(c)
    )
    assert strict["time_limit_s"] is None and strict["best"]["val_ppl"] is None
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "time_limit_s (inf), best.val_ppl (nan) not finite" in err[0]


def test_evaluate_json_is_strict(capsys):
    from rnnlab.runs.strictjson import dumps

    text = dumps({"dynamic": {"loss": float("nan"), "ppl": float("inf")}}, "evaluate --json")
    assert text == '{"dynamic": {"loss": null, "ppl": null}}'
    assert "evaluate --json: dynamic.loss (nan), dynamic.ppl (inf)" in capsys.readouterr().err


def test_schedules_that_make_no_sense_are_warned_and_blamed():
    from rnnlab.tasks import config_warnings
    from rnnlab.training.nanguard import Diverged

    tiny = REPO / "configs" / "tiny.yaml"
    step = load_config(tiny, ["optim.schedule=step", "optim.gamma=1e30"])
    assert any("optim.gamma 1e+30 > 1" in w for w in config_warnings(step))
    cosine = load_config(
        tiny, ["optim.schedule=cosine", "optim.warmup_steps=50", "optim.decay_steps=20"]
    )
    assert any("never decays after its warm-up" in w for w in config_warnings(cosine))
    assert config_warnings(load_config(tiny)) == []
    blamed = str(Diverged(3, 100, step.optim))
    assert "the step schedule multiplied the learning rate by optim.gamma 1e+30" in blamed
    assert "lower optim.lr" not in blamed


def test_resume_hints_are_shell_quoted(tmp_path):
    import shlex
    import signal

    from rnnlab.training.interrupt import Interrupted

    folder = tmp_path / "my runs" / "it's here"
    line = str(Interrupted(signal.SIGINT, folder, "after step 5"))
    hint = line.split("resume with: ")[1]
    assert shlex.split(hint) == ["rnnlab", "train", "--resume", str(folder)]


def test_a_trial_that_finished_before_the_sweep_died_is_told_not_redone(finished_search, tmp_path):
    """The sweep was killed after the run finished but before it told the study: the
    study says RUNNING, the folder says finished; the folder wins."""
    import sqlite3

    import optuna
    from typer.testing import CliRunner

    from rnnlab.cli import app

    sweep = tmp_path / "sweep"
    shutil.copytree(finished_search, sweep)
    with sqlite3.connect(sweep / "study.db") as con:
        con.execute("UPDATE trials SET state = 'RUNNING', datetime_complete = NULL")
        con.execute("DELETE FROM trial_values")
    summary = sweep / "runs" / "trial-000" / "summary.json"
    mtime = summary.stat().st_mtime_ns
    result = CliRunner().invoke(app, ["sweep", "--resume", str(sweep)])
    assert result.exit_code == 0, result.output
    assert summary.stat().st_mtime_ns == mtime and not (sweep / "attempts").exists()
    study = optuna.load_study(study_name="rnnlab", storage=f"sqlite:///{sweep / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
    assert _statuses(sweep) == {"trial-000": "finished"}


def test_a_killed_optuna_trial_continues_from_its_last_pt_as_the_same_trial(tmp_path):
    import csv
    import signal
    import subprocess
    import sys
    import time

    import optuna
    from typer.testing import CliRunner

    from rnnlab.cli import app

    argv = [sys.executable, "-m", "rnnlab", "sweep", str(REPO / "configs" / "tiny_digitsum.yaml"),
            "--search", "optuna", "--trials", "1", "--workers", "1",
            "--space", "optim.lr=choice:0.01,0.02", "train.epochs=500",
            "--out", str(tmp_path)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    sweep_proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not list(tmp_path.glob("*/runs/*/checkpoints/last.pt")) and time.time() < deadline:
        time.sleep(0.05)
    last = list(tmp_path.glob("*/runs/*/checkpoints/last.pt"))
    assert last, "no last.pt within 120 s"
    run_dir = last[0].parents[1]
    sweep = run_dir.parents[1]
    os.kill(int((run_dir / ".lock").read_text()), signal.SIGKILL)  # the child's PID
    sweep_proc.communicate(timeout=60)
    assert sweep_proc.returncode == 1  # the sweep saw a failed run
    with open(run_dir / "metrics.csv", newline="") as f:
        before = list(csv.DictReader(f))
    assert before, "killed before its first metrics row"
    storage = f"sqlite:///{sweep / 'study.db'}"
    (params,) = [t.params for t in optuna.load_study(study_name="rnnlab", storage=storage).trials]
    epochs = int(before[-1]["epoch"]) + 1  # one epoch more than it began
    base = (sweep / "base.yaml").read_text().replace("epochs: 500", f"epochs: {epochs}")
    (sweep / "base.yaml").write_text(base)
    result = CliRunner().invoke(app, ["sweep", "--resume", str(sweep)])
    assert result.exit_code == 0, result.output
    with open(run_dir / "metrics.csv", newline="") as f:
        after = list(csv.DictReader(f))
    assert after[0] == before[0]  # continued (its timings too), not retrained from epoch 1
    assert int(after[-1]["epoch"]) == epochs
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    study = optuna.load_study(study_name="rnnlab", storage=storage)  # the same trial, told
    assert [(t.number, t.state.name, t.params) for t in study.trials] == [(0, "COMPLETE", params)]
    with open(sweep / "results.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["status"] == "finished"
    assert study.trials[0].value == pytest.approx(float(row["best_dev_acc"]))
    kept = sweep / "attempts" / f"{run_dir.name}-1"  # the killed attempt's record is kept
    assert (kept / "metrics.csv").is_file() and not (kept / "checkpoints").exists()
