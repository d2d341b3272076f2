"""The memory benchmarks (docs/memory.md): each generator deterministic and shaped as its
paper defines the task, the memoryless baselines by hand equal to their formulas, a tiny
train + evaluate of each task through the CLI, the sweep plot's baseline line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.data import DATASETS
from rnnlab.data.memory import baseline_for, read_folder
from rnnlab.errors import RnnlabError

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SMALL = ["--n-train", "64", "--n-valid", "16", "--n-test", "16"]
SYNTHETIC = {  # gen-data command: (dataset, a length)
    "adding": ("adding", 12),
    "copy": ("copy", 6),
    "selective-copy": ("selective_copy", 20),
    "recall": ("recall", 30),
}


def gen(task: str, out: Path, *args: str):
    result = runner.invoke(app, ["gen-data", task, "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return result


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def draw(name: str, length: int, n: int, seed: int = 0, **opts):
    cls = DATASETS.get(name)
    return cls.generate(length, n, np.random.default_rng(seed), {**cls.options, **opts})


# --- determinism ---
@pytest.mark.parametrize("task", SYNTHETIC)
def test_same_seed_same_bytes_other_seed_other_bytes(task, tmp_path):
    length = str(SYNTHETIC[task][1])
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        gen(task, tmp_path / name, "--lengths", length, "--seed", seed, *SMALL)
    a, b, c = (files(tmp_path / name / length) for name in "abc")
    assert set(a) == {"meta.json"} | {
        f"{s}.{xy}.npy" for s in ("train", "dev", "test") for xy in "xy"
    }
    assert a == b
    assert a["train.x.npy"] != c["train.x.npy"] and a["test.y.npy"] != c["test.y.npy"]
    assert a["dev.x.npy"] != a["test.x.npy"]  # each split its own stream


def test_digits_deterministic_and_permuted_by_seed(tmp_path):
    gen("digits", tmp_path / "a", "--permute", "5")
    gen("digits", tmp_path / "b", "--permute", "5")
    gen("digits", tmp_path / "c", "--permute", "6")
    gen("digits", tmp_path / "d", "--seed", "1")
    gen("digits", tmp_path / "a")
    a = files(tmp_path / "a" / "permuted5")
    assert a == files(tmp_path / "b" / "permuted5")
    assert a["train.x.npy"] != files(tmp_path / "c" / "permuted6")["train.x.npy"]
    plain = read_folder(DATASETS.get("digits"), tmp_path / "a" / "pixels")
    permuted = read_folder(DATASETS.get("digits"), tmp_path / "a" / "permuted5")
    other_split = read_folder(DATASETS.get("digits"), tmp_path / "d" / "pixels")
    (x, y), (xp, yp) = plain.split("train"), permuted.split("train")
    assert x.shape == (1257, 64, 1) and y.shape == (1257,) and set(y) == set(range(10))
    assert {k: len(v[0]) for k, v in plain.splits.items()} == {
        "train": 1257,
        "dev": 270,
        "test": 270,
    }
    assert np.array_equal(y, yp) and not np.array_equal(x, xp)  # same images, pixels moved
    assert np.array_equal(np.sort(x, axis=1), np.sort(xp, axis=1))
    assert 0 <= x.min() and x.max() == 1.0
    assert not np.array_equal(y, other_split.split("train")[1])  # --seed shuffles the split


# --- the tasks as defined, and their memoryless baselines ---
def test_adding_two_markers_one_per_half_and_the_baseline_is_one_sixth():
    x, y = draw("adding", 10, 200_000)  # (N, T, 2), (N,)
    assert x.shape == (200_000, 10, 2) and x.dtype == np.float32
    marker = x[:, :, 1]
    assert (marker.sum(1) == 2).all()
    assert (marker[:, :5].sum(1) == 1).all() and (marker[:, 5:].sum(1) == 1).all()
    assert np.allclose(y, (x[:, :, 0] * marker).sum(1))
    mse = float(np.mean((y.astype(np.float64) - 1.0) ** 2))  # always predicting 1
    assert abs(mse - 1 / 6) < 0.003  # sampling error ~ 0.0004 at this n
    assert DATASETS.get("adding").baseline("mse", 10, {}) == pytest.approx(0.1667, abs=1e-4)


@pytest.mark.parametrize("length", [1, 5, 30])
def test_copy_layout_and_its_baseline_cross_entropy(length):
    x, y = draw("copy", length, 500)
    assert x.shape == y.shape == (500, length + 20)
    assert ((x[:, :10] >= 1) & (x[:, :10] <= 8)).all()
    assert (x[:, 10 + length - 1] == 9).all()  # the delimiter
    assert (np.count_nonzero(x, axis=1) == 11).all()  # ten symbols and the delimiter
    assert np.array_equal(y[:, -10:], x[:, :10]) and (y[:, :-10] == 0).all()
    # the memoryless predictor: a blank wherever the target is blank, else 1/8 per symbol
    log_p = np.where(y[:, :-10] == 0, 0.0, -np.inf)
    cross_entropy = -(log_p.sum() + np.full((500, 10), np.log(1 / 8)).sum()) / y.size
    formula = 10 * math.log(8) / (length + 20)
    assert cross_entropy == pytest.approx(formula, rel=1e-12)
    assert DATASETS.get("copy").baseline("loss", length, {"symbols": 10, "alphabet": 8}) == formula


def test_the_copy_task_loss_of_the_memoryless_predictor_is_the_formula():
    """The task's own loss (every step has a target) of logits that put all mass on the
    blank before the copy and spread it over the 8 symbols after: 10 log 8 / (T + 20)."""
    import torch

    from rnnlab.tasks.memory_tasks import CopyTask

    x, y = draw("copy", 7, 64)
    logits = torch.full((64, 27, 10), -1e4)  # (B, T + 20, vocab)
    logits[:, :-10, 0] = 0.0
    logits[:, -10:, 1:9] = 0.0
    task = CopyTask.__new__(CopyTask)
    task.kind = "sequence"
    sums = task.sums(logits, torch.as_tensor(y).long())
    metrics = task.metrics({k: float(v) for k, v in sums.items()}, 64)
    assert metrics["loss"] == pytest.approx(10 * math.log(8) / 27, rel=1e-5)


def test_selective_copy_outputs_its_data_tokens_in_order():
    x, y = draw("selective_copy", 40, 300)
    assert x.shape == y.shape == (300, 56)
    span, markers = x[:, :40], x[:, 40:]
    assert (np.count_nonzero(span, axis=1) == 16).all() and (markers == 17).all()
    assert (y[:, :40] == -1).all()
    data = span[span > 0].reshape(300, 16)  # row by row, in order of position
    assert np.array_equal(y[:, 40:], data)
    positions = [tuple(np.flatnonzero(row)) for row in span[:20]]
    assert len(set(positions)) > 1  # the gaps vary (unlike the copy problem)


def test_recall_queries_ask_for_the_paired_values():
    x, y = draw("recall", 40, 200, pairs=6, queries=4, keys=20, values=30)
    assert x.shape == y.shape == (200, 40)
    keys, values = x[:, 0:12:2], x[:, 1:12:2]
    assert ((keys >= 1) & (keys <= 20)).all() and ((values >= 21) & (values <= 50)).all()
    assert all(len(set(row)) == 6 for row in keys)  # distinct keys per sequence
    assert ((y >= 0).sum(1) == 4).all() and (y[:, :12] == -1).all()
    for row in range(200):
        pair = dict(zip(keys[row], values[row]))
        asked = np.flatnonzero(y[row] >= 0)
        assert all(y[row, t] == pair[x[row, t]] for t in asked)
        assert len(set(x[row, asked])) == 4  # distinct queries


def test_baselines_for_sweep_metrics():
    copy = load_config(CONFIGS / "copy_lstm.yaml")
    assert baseline_for(copy, "test_loss", 500) == pytest.approx(10 * math.log(8) / 520)
    assert baseline_for(copy, "test_acc", 500) == 1 / 8
    assert baseline_for(load_config(CONFIGS / "adding_lstm.yaml"), "best_dev_mse", 100) == 1 / 6
    assert baseline_for(load_config(CONFIGS / "selective_copy_lstm.yaml"), "test_acc", 64) == 1 / 16
    assert baseline_for(load_config(CONFIGS / "recall_lstm.yaml"), "test_acc", 64) == 1 / 64
    assert baseline_for(load_config(CONFIGS / "digits_lstm.yaml"), "test_acc", None) == 0.1
    assert baseline_for(load_config(CONFIGS / "tiny_digitsum.yaml"), "test_acc", 5) is None


def test_sweep_plot_draws_the_baseline(tmp_path):
    from rnnlab.sweep.runner import memoryless_baseline

    base = tmp_path / "base.yaml"
    base.write_text((CONFIGS / "copy_lstm.yaml").read_text())
    grid = {"data.length": [10, 50], "model.cell": ["gru", "lstm"]}
    line = memoryless_baseline(base, grid, "test_loss")
    assert line == {
        10: pytest.approx(10 * math.log(8) / 30),
        50: pytest.approx(10 * math.log(8) / 70),
    }
    assert memoryless_baseline(base, {"model.cell": ["gru"]}, "test_acc") == {None: 1 / 8}
    assert memoryless_baseline(base, grid, "tokens_per_s") is None


def test_digits_without_scikit_learn_is_one_line(monkeypatch):
    import sys

    from rnnlab.data.digits import load_images

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(RnnlabError, match=r"^the digits come with scikit-learn, which is not"):
        load_images()


# --- training through the CLI ---
def train(tmp_path: Path, config: str, *overrides: str) -> tuple[Path, dict]:
    argv = ["train", str(CONFIGS / config), *overrides, "--out", str(tmp_path / "runs"), "--quiet"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    return run, json.loads((run / "summary.json").read_text())


def evaluate(run: Path, split: str) -> dict:
    result = runner.invoke(app, ["evaluate", str(run), "--split", split, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["static"]


def test_adding_at_t10_learns_beyond_the_baseline_and_evaluates(tmp_path):
    gen(
        "adding",
        tmp_path / "data",
        "--lengths",
        "10",
        "--n-train",
        "3000",
        "--n-valid",
        "200",
        "--n-test",
        "200",
    )
    run, summary = train(
        tmp_path, "tiny_adding.yaml", f"data.path={tmp_path / 'data'}", "train.epochs=3"
    )
    assert summary["key_metric"] == "dev_mse" and summary["higher_is_better"] is False
    assert summary["test"]["test_mse"] < 0.05 < 1 / 6  # memory of the two marked values
    assert summary["examples"] == {"train": 3000, "dev": 200, "test": 200}
    again = evaluate(run, "test")
    assert again["mse"] == pytest.approx(summary["test"]["test_mse"], rel=1e-4)
    assert (run / "plots" / "loss.png").is_file()
    result = runner.invoke(app, ["predict", "--run", str(run), "--seq", "1 2"])
    assert result.exit_code == 2 and "rnnlab predict has no input for" in result.stderr
    assert "score it with rnnlab evaluate" in result.stderr
    result = runner.invoke(app, ["inspect", str(run), "--out", str(tmp_path / "inspect")])
    assert result.exit_code == 2 and "rnnlab inspect reads language models and" in result.stderr
    assert not (tmp_path / "inspect").exists()


@pytest.mark.parametrize(
    "task, config, length",
    [
        ("copy", "tiny_copy.yaml", 3),
        ("selective-copy", "tiny_selective_copy.yaml", 16),
        ("recall", "tiny_recall.yaml", 24),
    ],
)
def test_sequence_tasks_train_evaluate_and_resume(task, config, length, tmp_path):
    gen(task, tmp_path / "data", "--lengths", str(length), *SMALL)
    run, summary = train(
        tmp_path,
        config,
        f"data.path={tmp_path / 'data'}",
        f"data.length={length}",
        "train.epochs=1",
    )
    assert summary["key_metric"] == "dev_acc" and summary["status"] == "finished"
    test = summary["test"]
    assert set(test) == {"test_loss", "test_acc", "test_seq_acc"}
    assert 0 <= test["test_acc"] <= 1 and 0 <= test["test_seq_acc"] <= test["test_acc"] + 1e-9
    assert evaluate(run, "test")["loss"] == pytest.approx(test["test_loss"], rel=1e-4)
    resumed = runner.invoke(app, ["train", "--resume", str(run), "train.epochs=2", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2


def test_digits_classify_from_a_permuted_folder(tmp_path):
    gen(
        "digits",
        tmp_path / "data",
        "--permute",
        "0",
        "--n-train",
        "300",
        "--n-valid",
        "50",
        "--n-test",
        "50",
    )
    run, summary = train(
        tmp_path, "tiny_digits.yaml", f"data.path={tmp_path / 'data'}", "data.permute=0"
    )
    assert summary["examples"] == {"train": 300, "dev": 50, "test": 50}
    assert set(summary["test"]) == {"test_loss", "test_acc"}
    assert evaluate(run, "valid")["acc"] == pytest.approx(summary["best"]["dev_acc"])


def test_mnist1d_built_by_its_package_deterministic_and_trains(tmp_path):
    small = ["--n-train", "200", "--n-valid", "50", "--n-test", "50"]
    for name, seed in (("a", "42"), ("b", "42"), ("c", "7")):
        gen("mnist1d", tmp_path / name, "--seed", seed, *small)
    a, b, c = (files(tmp_path / name / "40") for name in "abc")
    assert a == b and a["train.x.npy"] != c["train.x.npy"]
    data = read_folder(DATASETS.get("mnist1d"), tmp_path / "a" / "40")
    x, y = data.split("train")
    assert x.shape == (200, 40, 1) and y.shape == (200,) and set(y) <= set(range(10))
    assert [len(data.split(s)[0]) for s in ("dev", "test")] == [50, 50]
    state = np.random.get_state()[1].copy()
    gen("mnist1d", tmp_path / "d", *small)
    assert np.array_equal(np.random.get_state()[1], state)  # the package's reseeding undone
    _, summary = train(
        tmp_path, "tiny_mnist1d.yaml", f"data.path={tmp_path / 'a'}", "train.epochs=1"
    )
    assert set(summary["test"]) == {"test_loss", "test_acc"}
