"""`rnnlab evaluate`: a run's held-out figures again from its checkpoint, and dynamic
evaluation (Krause et al. 2018) against a hand computation."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.data import check_config
from rnnlab.inference.dynamic_eval import (
    DynamicEval,
    dynamic_mean_loss,
    gradient_rms,
    rms_step,
)
from rnnlab.models import detach_state
from rnnlab.tasks import build_task
from rnnlab.tasks.heldout import lm_windows

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
TINY_LSTM = "data: {dataset: timemachine, batch_size: 4, num_steps: 8, max_tokens: 600}\n"
TINY_LSTM += "model: {cell: lstm, hidden_size: 12, embedding: 6}\n"


def tiny_task(write_config, impl: str = "builtin", cell: str = "lstm"):
    text = TINY_LSTM.replace("cell: lstm", f"cell: {cell}, impl: {impl}")
    cfg = check_config(load_config(write_config(text)))
    torch.manual_seed(0)
    task = build_task(cfg, torch.device("cpu"))
    return task, task.build_model()


def hand_dynamic_loss(model, ids: torch.Tensor, lr: float, decay: float, segment: int) -> float:
    """Krause's SGD rule, written out: score a segment, then step on its mean loss."""
    model = copy.deepcopy(model).eval()
    trained = {name: p.detach().clone() for name, p in model.named_parameters()}
    total, state = 0.0, None
    for start in range(0, len(ids) - 1, segment):
        x = ids[start : start + segment + 1][:-1]
        y = ids[start + 1 : start + 1 + len(x)]
        logits, state = model(x.view(1, -1), state)
        loss = F.cross_entropy(logits[:, 0], y)
        total += loss.item() * len(y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for name, p in model.named_parameters():
                p -= lr * p.grad
                p += decay * (trained[name] - p)
        state = detach_state(state)
    return total / (len(ids) - 1)


@pytest.mark.parametrize(
    "segment, impl, cell",
    [(1, "builtin", "lstm"), (5, "builtin", "lstm"), (7, "scratch", "lstm"), (5, "scratch", "gru")],
)
def test_sgd_dynamic_evaluation_matches_a_hand_computation(write_config, segment, impl, cell):
    task, model = tiny_task(write_config, impl, cell)
    ids = task.valid[:60]  # 59 predictions: the last segment is short for 5 and 7
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = dynamic_mean_loss(model, ids, DynamicEval(0.5, 0.01, segment, "sgd"))
    assert got == pytest.approx(hand_dynamic_loss(model, ids, 0.5, 0.01, segment), rel=1e-5)
    after = model.state_dict()  # the trained weights are back, and eval mode unchanged
    assert all(torch.equal(before[k], after[k]) for k in before) and model.training


def test_dynamic_evaluation_learns_a_text_as_it_reads_it(write_config):
    """On text that repeats, a model that adapts predicts the repeats better than the same
    model static; the first segment is scored before any step, as static."""
    task, model = tiny_task(write_config)
    ids = task.valid[:25].repeat(16)  # (400,)
    static = task.mean_loss(model, ids)
    dynamic = dynamic_mean_loss(model, ids, DynamicEval(2.0, 0.0, 5, "sgd"))
    assert dynamic < 0.6 * static  # measured: 1.51 against 3.22
    first = dynamic_mean_loss(model, ids[:6], DynamicEval(0.5, 0.0, 5, "sgd"))
    with torch.no_grad():
        logits, _ = model.eval()(ids[:5].view(1, -1))
    assert first == pytest.approx(F.cross_entropy(logits[:, 0], ids[1:6]).item(), rel=1e-6)


def test_rms_rule_normalises_by_the_training_gradients(write_config):
    task, model = tiny_task(write_config)
    params = list(model.parameters())
    tokens, targets = lm_windows(task.sampler.corpus, 8, 64)  # (64, 8) each
    rms = gradient_rms(model.eval(), params, (tokens, targets))
    # by hand: the mean of squared gradients over the 32 batches of two windows each
    squares = [torch.zeros_like(p) for p in params]
    for rows in torch.arange(64).chunk(32):
        logits, _ = model(tokens[rows])
        loss = F.cross_entropy(logits.flatten(0, 1), targets[rows].T.reshape(-1))
        for s, g in zip(squares, torch.autograd.grad(loss, params)):
            s += g * g
    for r, s in zip(rms, squares):
        torch.testing.assert_close(r, (s / 32).sqrt())
    # one step: theta - lr g scale + pull (theta_0 - theta)
    theta = [torch.randn(3), torch.randn(2)]
    theta0 = [torch.zeros(3), torch.ones(2)]
    grads = [torch.ones(3), torch.ones(2)]
    scale = [torch.full((3,), 2.0), torch.full((2,), 4.0)]
    pull = [torch.full((3,), 0.5), torch.full((2,), 0.25)]
    expect = [
        (theta[0] - 0.1 * 2) + 0.5 * (theta0[0] - (theta[0] - 0.1 * 2)),
        (theta[1] - 0.1 * 4) + 0.25 * (theta0[1] - (theta[1] - 0.1 * 4)),
    ]
    rms_step(theta, grads, theta0, 0.1, scale, pull)
    for t, e in zip(theta, expect):
        torch.testing.assert_close(t, e)


# --- the command ---


def train(tmp_path: Path, config: Path, *overrides: str) -> Path:
    argv = ["train", str(config), *overrides, "--out", str(tmp_path / "runs"), "--quiet"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


@pytest.fixture
def lm_run(tmp_path) -> Path:
    return train(tmp_path, REPO / "configs" / "tiny.yaml", "model.cell=lstm", "train.epochs=2")


def test_evaluate_gives_the_figure_training_reported_and_changes_nothing(lm_run):
    summary = json.loads((lm_run / "summary.json").read_text())
    files = {p: p.read_bytes() for p in lm_run.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["evaluate", str(lm_run), "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["split"] == "valid" and got["checkpoint"] == "best"
    assert got["static"]["ppl"] == pytest.approx(summary["best"]["val_ppl"], rel=1e-6)
    assert got["static"]["bpc"] == pytest.approx(got["static"]["loss"] / math.log(2))
    dynamic = runner.invoke(app, ["evaluate", str(lm_run), "--dynamic", "--rule", "sgd"])
    assert dynamic.exit_code == 0, dynamic.output
    lines = dynamic.stdout.strip().splitlines()
    assert lines[1].startswith("static   loss ") and lines[2].startswith("dynamic  loss ")
    assert "(sgd lr 3e-05, decay 0.002, segments of 5;" in lines[2]  # the character defaults
    assert {p: p.read_bytes() for p in lm_run.rglob("*") if p.is_file()} == files


def test_evaluate_tests_a_word_model_and_adapts_it(tmp_path, write_config):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for split, text in (("train", "the cat sat on the mat\n" * 40), ("valid", "the cat sat\n" * 6),
                        ("test", "a dog sat on the cat\n" * 5)):  # fmt: skip
        (folder / f"{split}.txt").write_text(text, encoding="utf-8")
    data = f"{{dataset: text, path: {folder}, token: word, eos: true, batch_size: 4, num_steps: 5}}"
    config = write_config(f"data: {data}\nmodel: {{cell: lstm, hidden_size: 8, embedding: 8}}\n"
                          "train: {epochs: 2, sample_len: 4, prefixes: ['the cat']}\n")  # fmt: skip
    run = train(tmp_path, config)
    summary = json.loads((run / "summary.json").read_text())
    argv = ["evaluate", str(run), "--split", "test", "--dynamic", "--json"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["static"]["ppl"] == pytest.approx(summary["test"]["ppl"], rel=1e-6)
    assert got["dynamic"]["rule"] == "rms" and got["dynamic"]["segment"] == 20  # words
    assert math.isfinite(got["dynamic"]["ppl"]) and "bpc" not in got["dynamic"]


def test_evaluate_scores_a_classifier_as_training_tested_it(tmp_path):
    """(Its mistakes, with the others, are rows of tests/test_bad_input.py.)"""
    run = train(tmp_path, REPO / "configs" / "tiny_digitsum.yaml", "train.epochs=1")
    static = runner.invoke(app, ["evaluate", str(run), "--split", "test", "--json"])
    assert static.exit_code == 0, static.output
    summary = json.loads((run / "summary.json").read_text())
    assert json.loads(static.stdout)["static"]["acc"] == pytest.approx(summary["test"]["test_acc"])
