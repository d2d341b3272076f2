"""train.precision (bf16 autocast, 16-mixed with a GradScaler), train.deterministic,
train.checkpoint_every and the peak memory in summary.json. CUDA-only checks are marked
`cuda` and skip, with the reason, where no CUDA device exists."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import rnnlab.training.loop as loop
from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.errors import RnnlabError
from rnnlab.runs import load_checkpoint
from rnnlab.runs.progress import Reporter
from rnnlab.training import precision
from rnnlab.training.precision import Precision, check_precision, resolve_precision
from rnnlab.training.resume import resume
from rnnlab.training.session import train

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def run_tiny(tiny_config, tmp_path, *overrides, name="run"):
    cfg = load_config(tiny_config, ["device=cpu", *overrides])
    return train(cfg, tmp_path, Reporter(quiet=True), tmp_path / name)


def test_bf16_autocast_runs_products_in_bfloat16_and_keeps_float32_weights(tiny_config, tmp_path):
    p = Precision("bf16", torch.device("cpu"))
    layer = nn.Linear(4, 3)
    with p.autocast():
        out = layer(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32
    run = run_tiny(tiny_config, tmp_path, "train.precision=bf16")
    summary = json.loads(run.summary_path.read_text())
    assert summary["status"] == "finished" and summary["precision"] == "bf16"
    assert 1 < summary["final"]["train_ppl"] < 20  # it learns (28 characters: chance is 28)
    weights = load_checkpoint(run.checkpoint_path("last"))["model"]
    assert all(w.dtype == torch.float32 for w in weights.values())


def test_bf16_changes_the_numbers_a_little(tiny_config, tmp_path):
    """autocast is really on: the losses differ from float32's, but not by much."""
    full = run_tiny(tiny_config, tmp_path, name="full").read_metrics()[-1]["train_loss"]
    half = run_tiny(tiny_config, tmp_path, "train.precision=bf16", name="bf16")
    half = half.read_metrics()[-1]["train_loss"]
    assert half != full and abs(half - full) < 0.1 * full


def test_grad_scaler_state_round_trips_through_resume(tiny_config, tmp_path):
    """16-mixed on CPU (a GRU: oneDNN's float16 LSTM is missing): the scaler's growth
    tracker counts every good step across a resume, and the resumed run equals one that
    never stopped, bit for bit."""
    whole = run_tiny(tiny_config, tmp_path, "train.precision=16-mixed", name="whole")
    first = run_tiny(
        tiny_config, tmp_path, "train.precision=16-mixed", "train.epochs=2", name="part"
    )
    two = load_checkpoint(first.checkpoint_path("last"))
    assert two["precision"]["scaler"]["_growth_tracker"] == two["step"]  # no overflow yet
    resume(first.dir, ["train.epochs=3"], Reporter(quiet=True))
    a = load_checkpoint(whole.checkpoint_path("last"))
    b = load_checkpoint(first.checkpoint_path("last"))
    assert b["precision"]["scaler"] == a["precision"]["scaler"]
    assert b["precision"]["scaler"]["_growth_tracker"] == b["step"] == 3 * two["step"] // 2
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_scaler_unscales_before_clipping():
    """Clipping sees the true gradients: after `unscale` they equal an unscaled backward."""
    torch.manual_seed(0)
    model, x = nn.Linear(3, 1), torch.randn(8, 3)
    p = Precision("16-mixed", torch.device("cpu"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    p.backward(model(x).pow(2).mean())
    p.unscale(optimizer)
    scaled = [q.grad.clone() for q in model.parameters()]
    model.zero_grad()
    model(x).pow(2).mean().backward()
    assert all(torch.allclose(a, q.grad) for a, q in zip(scaled, model.parameters()))


def test_precision_checks(tiny_config):
    cfg = load_config(tiny_config, ["model.cell=lstm"])
    with pytest.raises(RnnlabError, match="no float16 LSTM"):
        check_precision("16-mixed", torch.device("cpu"), cfg.model)
    warnings = check_precision("16-mixed", torch.device("cpu"), load_config(tiny_config).model)
    assert "slow" in warnings[0]
    assert check_precision(32, torch.device("cpu"), cfg.model) == []
    with pytest.raises(RnnlabError, match="'train.precision' must be one of 32 | bf16 | 16-mixed"):
        load_config(tiny_config, ["train.precision=fp8"])


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_where_the_cpu_has_it(monkeypatch, native):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: native)
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if native else 32)
    assert resolve_precision("auto", torch.device("mps")) == 32
    assert [resolve_precision(m, cpu) for m in (32, "bf16", "16-mixed")] == [32, "bf16", "16-mixed"]


def test_auto_runs_and_records_what_it_resolved_to(tiny_config, tmp_path):
    run = run_tiny(tiny_config, tmp_path, "train.precision=auto")
    summary = json.loads(run.summary_path.read_text())
    assert summary["status"] == "finished"
    assert summary["precision"] == ("bf16" if precision.cpu_has_bf16() else 32)


def test_bf16_builtin_lstm_without_native_bf16_is_one_line_before_a_run_folder(
    tiny_config, tmp_path, monkeypatch
):
    """An AVX2 CPU: oneDNN cannot build a bfloat16 LSTM (measured: 'could not create a
    primitive descriptor', a traceback before this check)."""
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(precision, "cpu_runs_bf16_lstm", lambda: False)
    args = ["model.cell=lstm", "model.impl=builtin", "train.precision=bf16"]
    result = CliRunner().invoke(app, ["train", str(tiny_config), "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert "bf16 with a builtin LSTM cannot run on this CPU" in result.output
    assert "train.precision=auto" in result.output and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # no run folder
    cfg = load_config(tiny_config, ["model.cell=gru"])  # a GRU runs: slow, with a warning
    assert "20x" in check_precision("bf16", torch.device("cpu"), cfg.model)[0]


def test_the_bf16_lstm_probe_matches_the_cpu():
    """Where the CPU has native bfloat16 oneDNN builds the bf16 LSTM; on an AVX2-only CPU
    (this project's 2026-11-30 host) it cannot. (AVX-512 without bf16: either.)"""
    flags = open("/proc/cpuinfo").read() if sys.platform.startswith("linux") else ""
    if precision.cpu_has_bf16():
        assert precision.cpu_runs_bf16_lstm()
    elif " avx2" in flags and " avx512f" not in flags:
        assert not precision.cpu_runs_bf16_lstm()


def test_deterministic_on_cpu_changes_nothing(tiny_config, tmp_path):
    try:
        a = run_tiny(tiny_config, tmp_path, "train.deterministic=true", name="det")
    finally:
        torch.use_deterministic_algorithms(False)
    b = run_tiny(tiny_config, tmp_path, name="plain")
    wa = load_checkpoint(a.checkpoint_path("last"))["model"]
    wb = load_checkpoint(b.checkpoint_path("last"))["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_last_pt_is_written_after_the_first_epoch_then_by_time_and_at_the_end(
    tiny_config, tmp_path, monkeypatch
):
    saved = []
    real_save = loop.save

    def recording_save(s, which, state, window):
        saved.append((which, state.epoch))
        real_save(s, which, state, window)

    monkeypatch.setattr(loop, "save", recording_save)
    run_tiny(tiny_config, tmp_path, "train.checkpoint_every=3600", "train.epochs=4", name="a")
    assert [e for w, e in saved if w == "last"] == [1, 4]  # not after epochs 2 and 3
    saved.clear()
    run_tiny(tiny_config, tmp_path, "train.checkpoint_every=0", "train.epochs=4", name="b")
    assert [e for w, e in saved if w == "last"] == [1, 2, 3, 4]


def test_summary_has_peak_memory(tiny_config, tmp_path):
    """The process's peak RSS in MiB: at least the RSS before the run started, at most the
    peak measured just after it (a wrong unit is off by 1024 and fails either bound)."""
    import resource

    def rss_mb() -> float:  # the resident set now, from /proc (Linux)
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024

    before = rss_mb()
    summary = json.loads(run_tiny(tiny_config, tmp_path).summary_path.read_text())
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    assert before - 1 <= summary["peak_memory_mb"] <= after + 0.1, (before, after)


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("precision", [32, "bf16", "16-mixed"])
def test_every_cell_trains_on_cuda_under_every_precision(tiny_config, tmp_path, cell, precision):
    cfg = load_config(
        tiny_config, ["device=cuda", f"model.cell={cell}", f"train.precision={precision}"]
    )
    run = train(cfg, tmp_path, Reporter(quiet=True), tmp_path / "run")
    summary = json.loads(run.summary_path.read_text())
    assert summary["status"] == "finished" and summary["final"]["train_ppl"] < 20
