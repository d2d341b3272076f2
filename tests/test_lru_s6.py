"""The LRU and S6 sequence layers (rnnlab/models/cells/lru.py, s6.py): parallel form ==
step form, a state carried across chunks == one long sequence, gradients by gradcheck,
the same outputs as the PyPI packages that implement them in plain PyTorch (mambapy's
MambaBlock; LRU-pytorch's LRU), and S6's autograd memory bounded by its time chunks."""

import types

import pytest
import torch
from torch.func import functional_call

from rnnlab.models.cells import s6 as s6_module
from rnnlab.models.cells.lru import LRU
from rnnlab.models.cells.s6 import S6

KEYS = ("state_size", "r_min", "r_max", "scan_chunk", "conv_width", "expand")


def cfg(**kw):
    """A model section with the sequence-layer keys (None: the layer's default)."""
    return types.SimpleNamespace(**{k: kw.get(k) for k in KEYS})


def layer(cls, D=6, H=6, dtype=torch.float32, seed=0, **kw):
    torch.manual_seed(seed)
    m = cls(D, H, cfg(**kw)).to(dtype)
    m.init_weights()
    return m.to(dtype)


def run_steps(m, x, state):
    ys = []
    for t in range(x.shape[0]):
        y_t, state = m.step(x[t], state)  # (B, H)
        ys.append(y_t)
    return torch.stack(ys), state  # (T, B, H)


LAYERS = {
    "lru": dict(cls=LRU),
    "lru_small_state": dict(cls=LRU, state_size=3, r_min=0.0, r_max=0.5),
    "lru_bidir_width": dict(cls=LRU, D=12),  # D (H, 2H) a matrix: a bidirectional stack
    "s6": dict(cls=S6),
    "s6_k1_n4": dict(cls=S6, conv_width=1, state_size=4, expand=1, scan_chunk=5),
    "s6_wide_in": dict(cls=S6, D=12, conv_width=3),
}


@pytest.mark.parametrize("name", LAYERS)
def test_parallel_equals_step(name):
    kw = dict(LAYERS[name])
    m = layer(kw.pop("cls"), **kw)
    g = torch.Generator().manual_seed(1)
    for T in (1, 2, 37, 300, 2048):
        B = 2 if T < 2048 else 1
        x = torch.randn(T, B, m.input_size, generator=g)  # (T, B, D)
        with torch.no_grad():
            y, state = m.parallel(x, m.initial_state(B))
            y_step, state_step = run_steps(m, x, m.initial_state(B))
        assert y.shape == (T, B, m.hidden_size)
        torch.testing.assert_close(y, y_step, atol=1e-5, rtol=1e-5)
        for part, part_step in zip(state, state_step):
            torch.testing.assert_close(part, part_step, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", LAYERS)
def test_a_carried_state_continues_the_sequence(name):
    kw = dict(LAYERS[name])
    m = layer(kw.pop("cls"), **kw)
    x = torch.randn(90, 3, m.input_size)  # (T, B, D)
    with torch.no_grad():
        y, state = m(x)
        y1, s1 = m(x[:41])
        y2, s2 = m(x[41:], s1)
        y3, s3 = m(x[41:42], s1)  # one step: forward takes the step form
    torch.testing.assert_close(torch.cat([y1, y2]), y, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y3[0], y[41], atol=1e-5, rtol=1e-5)
    for part, whole in zip(s2, state):
        torch.testing.assert_close(part, whole, atol=1e-5, rtol=1e-5)


def _gradcheck(m, x, state, names):
    params = {k: v.detach().requires_grad_() for k, v in m.named_parameters()}

    def f(x, *chosen):
        p = dict(params, **dict(zip(names, chosen)))
        y, last = functional_call(m, p, (x, state))
        return y, *last

    chosen = [params[n] for n in names]
    assert torch.autograd.gradcheck(f, (x.requires_grad_(), *chosen))


def test_gradients_lru():
    m = layer(LRU, D=3, H=3, dtype=torch.float64, state_size=2, scan_chunk=3)
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    state = (torch.randn(2, 2, 2, dtype=torch.float64),)
    names = ["nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im", "D", "glu.weight"]
    _gradcheck(m, x, state, names)


def test_gradients_s6():
    m = layer(S6, D=3, H=3, dtype=torch.float64, state_size=2, conv_width=3, scan_chunk=3)
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    state = tuple(torch.randn_like(s) for s in m.initial_state(2, dtype=torch.float64))
    names = ["A_log", "D", "dt_proj.bias", "dt_proj.weight", "x_proj.weight", "conv1d.weight"]
    _gradcheck(m, x, state, names)


def test_s6_is_mambapys_mamba_block():
    """mambapy's MambaBlock (pure PyTorch, the official mamba_simple.py's equations) with
    the same state_dict gives the same outputs, gradients and steps."""
    from mambapy.mamba import MambaBlock, MambaConfig

    m = layer(S6, D=16, H=16, state_size=8, conv_width=4, expand=2, scan_chunk=16)
    conf = MambaConfig(d_model=16, n_layers=1, d_state=8, d_conv=4, expand_factor=2, pscan=True)
    ref = MambaBlock(conf)
    ref.load_state_dict(m.state_dict())  # the same names and shapes, strict
    x = torch.randn(50, 3, 16, requires_grad=True)  # (T, B, D)
    y, _ = m(x)
    y_ref = ref(x.transpose(0, 1)).transpose(0, 1)  # mambapy is batch first
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    (g,) = torch.autograd.grad(y.square().sum(), x)
    (g_ref,) = torch.autograd.grad(y_ref.square().sum(), x)
    torch.testing.assert_close(g, g_ref, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        conv, h = m.initial_state(3)
        y_t, _ = m.step(x[0], (conv, h))
        y_ref_t, _ = ref.step(x[0], (h, conv))  # mambapy's cache is (h, inputs)
    torch.testing.assert_close(y_t, y_ref_t, atol=1e-6, rtol=1e-5)


def test_lru_is_lru_pytorchs_lru():
    """LRU-pytorch's LRU runs the paper's recurrence (no GLU after it) with a loop and a
    full (H, D) skip matrix D; with D = diag(ours) and the same λ, γ, B, C, the outputs
    of our recurrence agree. Its
    initialisation is the paper's ring with the paper's code defaults (r_min = 0,
    r_max = 1); ours defaults to the long-range setting 0.9 / 0.999."""
    from LRU_pytorch import LRU as RefLRU

    m = layer(LRU, D=5, H=5, state_size=7)
    ref = RefLRU(5, 5, 7)
    with torch.no_grad():
        for name in ("nu_log", "theta_log", "gamma_log"):
            getattr(ref, name).copy_(getattr(m, name))
        ref.B.copy_(torch.complex(m.B_re, m.B_im))
        ref.C.copy_(torch.complex(m.C_re, m.C_im))
        ref.D.copy_(torch.diag(m.D))
        x = torch.randn(60, 5)  # (T, D): one sequence, its 2-D form
        y, _ = m.recurrence(x.unsqueeze(1), m.initial_state(1))  # (T, 1, H): before the GLU
        torch.testing.assert_close(y[:, 0], ref(x), atol=1e-5, rtol=1e-5)


def test_lru_init_is_the_ring():
    m = layer(LRU, D=4, H=4, state_size=4000, r_min=0.4, r_max=0.8)
    lam, gamma = m.lam()
    mod = lam.abs()
    assert 0.4 <= mod.min() and mod.max() <= 0.8
    assert abs(mod.square().mean().item() - (0.16 + 0.64) / 2) < 0.01  # |λ|² uniform
    torch.testing.assert_close(gamma, torch.sqrt(1 - mod.square()))
    assert 0 <= lam.angle().remainder(2 * torch.pi).max() <= 2 * torch.pi


def test_s6_init_is_the_papers():
    m = layer(S6, D=32, H=32, state_size=5)
    torch.testing.assert_close(-torch.exp(m.A_log[7]), -torch.arange(1.0, 6.0))  # S4D-real
    dt = torch.nn.functional.softplus(m.dt_proj.bias)  # Δ at init for a zero input
    assert 1e-3 * 0.999 <= dt.min() and dt.max() <= 0.1 * 1.001
    assert m.dt_rank == 2 and torch.all(m.D == 1)


def _saved_bytes(m, x):
    """Bytes autograd keeps from the forward for the backward (distinct storages)."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y, _ = m(x)
    y.sum().backward()
    return sum(seen.values())


def test_s6_memory_is_bounded_by_its_chunks(monkeypatch):
    """At T = 2048 the (T, B, E, N) tensors are never all kept for the backward: what
    autograd saves is a small part of B·T·E·N floats (the per-token activations, and
    the state entering each chunk); without the checkpointing of each
    chunk it is several times that (so the measure sees them)."""
    T, B, H, N = 2048, 2, 8, 64
    m = layer(S6, D=H, H=H, state_size=N, scan_chunk=64)
    x = torch.randn(T, B, H)
    full = T * B * m.inner * N * 4  # bytes of one (T, B, E, N) float32 tensor
    assert _saved_bytes(m, x) < full / 3  # (T, B, E) activations and B, C (T, B, N)
    monkeypatch.setattr(s6_module, "checkpoint", lambda f, *a, **kw: f(*a))
    assert _saved_bytes(m, x) > 2 * full  # Ā, h and more, per token


def test_bench_frontier_matches_parameter_counts(monkeypatch):
    """scripts/bench_frontier.py's equal-parameter rows: the hidden size it picks gives
    each cell's stack about the base LSTM's parameter count."""
    import sys
    from pathlib import Path

    from rnnlab.config import load_config

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "scripts"))
    sys.modules.pop("bench_frontier", None)
    import bench_frontier as bf

    model = load_config(Path(bf.REPO) / "configs" / "lstm_shakespeare.yaml").model
    target = bf.stack_params(bf.cell_model(model, "lstm", model.hidden_size), 64)
    for cell in ("gru", "lru", "s6"):
        hidden = bf.matched_hidden(model, cell, 64, target)
        got = bf.stack_params(bf.cell_model(model, cell, hidden), 64)
        assert abs(got - target) < 0.05 * target, (cell, hidden, got, target)


def test_s6_peak_memory_is_within_4x_an_lstms(monkeypatch):
    """Peak live tensor bytes of forward + backward at T = 2048 (the profiler's allocation
    records, scripts/frontier_memory.py): S6 (E = 2H, N = 16) within 4x an nn.LSTM of the
    same hidden size, though one (T, B, E, N) tensor alone is more than the LSTM's peak."""
    import argparse
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "scripts"))
    import frontier_memory as fm

    args = argparse.Namespace(device="cpu", batch=2, hidden=32)
    lstm, s6 = (fm.peak_mib(cell, 2048, args) for cell in ("lstm", "s6"))
    full = 2048 * 2 * 64 * 16 * 4 / 2**20  # MiB of one (T, B, E, N) float32 tensor
    assert full > lstm and s6 < 4 * lstm, (lstm, s6, full)


@pytest.mark.parametrize("cell", ["lru", "s6"])
def test_generation_through_the_language_model_is_the_parallel_logits(cell):
    """A language model over a 2-block stack: the prefix in parallel, then one token at a
    time (the step form, as `predict` generates) == all in parallel."""
    from rnnlab.config.schema import ModelConfig
    from rnnlab.models import LanguageModel

    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, impl="scratch", hidden_size=6, num_layers=2, embedding=5,
                      state_size=4)  # fmt: skip
    lm = LanguageModel(11, cfg).eval()
    tokens = torch.randint(11, (2, 30))  # (B, T)
    with torch.no_grad():
        parallel, state_p = lm(tokens)  # (T, B, V)
        logits, state = lm(tokens[:, :4])
        steps = [logits]
        for t in range(4, 30):
            out, state = lm(tokens[:, t : t + 1], state)  # (1, B, V)
            steps.append(out)
    torch.testing.assert_close(torch.cat(steps), parallel, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state, state_p, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["lru", "s6"])
def test_train_predict_resume_evaluate_inspect_and_export_refused(cell, tmp_path):
    from pathlib import Path

    from typer.testing import CliRunner

    from rnnlab.cli import app

    runner = CliRunner()

    def cli(*args):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.stdout

    config = Path(__file__).resolve().parents[1] / "configs" / f"tiny_{cell}.yaml"
    out = cli("train", config, "train.epochs=1", "--out", tmp_path, "--quiet")
    run = Path(out.strip().splitlines()[-1])
    text = cli("predict", "--run", run, "--prefix", "time traveller")
    assert text.startswith("time traveller") and len(text.strip()) > len("time traveller")
    cli("train", "--resume", run, "train.epochs=2", "--quiet")
    assert '"epochs": 2' in (run / "summary.json").read_text()
    assert "dynamic" in cli("evaluate", run, "--dynamic")
    cli("inspect", run, "--grad-flow")  # the probe runs the step form in float64
    assert (run / "inspect" / "grad_flow.csv").read_text().count("\n") > 1
    refused = runner.invoke(app, ["export", str(run), "--format", "torchscript"])
    assert refused.exit_code == 2 and "cannot be exported yet" in refused.output
