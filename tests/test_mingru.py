"""minGRU and minLSTM (rnnlab/models/cells/mingru.py, minlstm.py) and their stack
(models/sequence_stack.py): the parallel form against the step form, states carried
across batches, generation, gradients, the reference implementation (mingru-pytorch),
the gradient-flow probe, and train / predict / resume / evaluate / export / inspect
through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config.schema import ModelConfig
from rnnlab.models import LanguageModel
from rnnlab.models.cells.mingru import MinGRU
from rnnlab.models.cells.minlstm import MinLSTM
from rnnlab.models.compile import resolve_compile
from rnnlab.models.recurrent import detach_state
from rnnlab.models.sequence_probe import sequence_grad_flow
from rnnlab.models.sequence_stack import SequenceStack
from rnnlab.tasks.language_model import scale_rows

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parents[1]
LAYERS = {"mingru": MinGRU, "minlstm": MinLSTM}
runner = CliRunner()


def layer(name: str, D=4, H=5, dtype=torch.float32, scale=1.0, chunk=None) -> MinGRU:
    """A layer with its weights scaled by `scale` (large: gates near 0 and 1)."""
    torch.manual_seed(0)
    m = LAYERS[name](D, H, ModelConfig(cell=name, impl="scratch", scan_chunk=chunk)).to(dtype)
    m.init_weights()
    with torch.no_grad():
        m.proj.weight.mul_(scale)
        m.proj.bias.mul_(scale)
    return m


def stepwise(m, x, state):
    """The step form over x (T, B, D): y (T, B, H), state."""
    ys = []
    for x_t in x:
        y_t, state = m.step(x_t, state)
        ys.append(y_t)
    return torch.stack(ys), state


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("T", [1, 2, 17, 300, 2048])
@pytest.mark.parametrize("scale", [1.0, 8.0])
@pytest.mark.parametrize("log_space", [False, True])
def test_parallel_form_is_the_step_form(name, dtype, T, scale, log_space):
    """Both parallel forms: the product form (linear_scan, the default) and the paper's
    log-space form (log_scan, what export traces)."""
    m = layer(name, dtype=dtype, scale=scale)
    m.log_space = log_space
    x = torch.randn(T, 3, 4, dtype=dtype)
    h0 = torch.randn(3, 5, dtype=dtype)  # any sign: h0 enters the scan linearly
    with torch.no_grad():
        y, (h_last,) = m.parallel(x, (h0,))
        y_ref, (h_ref,) = stepwise(m, x, (h0,))
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(y, y_ref, rtol=tol, atol=tol)
    torch.testing.assert_close(h_last, h_ref, rtol=tol, atol=tol)
    if scale == 8.0 and T >= 300:  # the gates do reach their ends
        k = m.proj(x)[..., :5]  # z or f pre-activations
        assert (torch.sigmoid(k) < 1e-3).any() and (torch.sigmoid(k) > 1 - 1e-3).any()


@pytest.mark.parametrize("name", LAYERS)
def test_the_scan_chunk_does_not_change_the_result(name):
    x = torch.randn(50, 2, 4, dtype=torch.float64)
    outs = [layer(name, dtype=torch.float64, chunk=c)(x)[0] for c in (1, 7, None, 64)]
    for c in (1, 7, None, 64):
        m = layer(name, dtype=torch.float64, chunk=c)
        m.log_space = True
        outs.append(m(x)[0])
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=1e-12, atol=1e-12)


def test_one_step_goes_through_the_step_form():
    m = layer("mingru")
    calls = []
    m.parallel = lambda *a: calls.append("parallel")  # type: ignore[method-assign]
    y, (h,) = m(torch.randn(1, 2, 4))
    assert calls == [] and y.shape == (1, 2, 5) and h.shape == (2, 5)


@pytest.mark.parametrize("name", LAYERS)
def test_gradcheck_float64(name):
    m = layer(name, D=3, H=2, dtype=torch.float64, scale=2.0)
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(2, 2, dtype=torch.float64, requires_grad=True)
    w, b = m.proj.weight, m.proj.bias

    def run(x, h0, w, b):
        m.proj.weight, m.proj.bias = w, b  # plain tensors: gradcheck differentiates them
        return m.parallel(x, (h0,))[0]

    del m.proj.weight, m.proj.bias
    w, b = w.detach().requires_grad_(), b.detach().requires_grad_()
    assert torch.autograd.gradcheck(run, (x, h0, w, b))


def stack_cfg(name="mingru", **more) -> ModelConfig:
    return ModelConfig(cell=name, impl="scratch", hidden_size=6, num_layers=2, **more)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_state_carried_across_two_batches_is_one_long_sequence(name, bidirectional):
    torch.manual_seed(0)
    stack = SequenceStack(stack_cfg(name), 3).double().eval()
    x = torch.randn(20, 2, 3, dtype=torch.float64)
    whole, state_whole = stack(x)
    first, state = stack(x[:12])
    second, state = stack(x[12:], detach_state(state))
    torch.testing.assert_close(torch.cat([first, second]), whole)
    torch.testing.assert_close(state, state_whole)
    assert len(state) == 1 and state[0].shape == (2, 2, 6)
    if bidirectional:  # the reverse direction runs the same stack on the flipped sequence
        bi = SequenceStack(stack_cfg(name, bidirectional=True), 3).double().eval()
        out, (h,) = bi(x)
        assert out.shape == (20, 2, 12) and h.shape == (4, 2, 6)


@pytest.mark.parametrize("name", LAYERS)
def test_generation_step_by_step_is_the_parallel_logits(name):
    torch.manual_seed(0)
    lm = LanguageModel(11, stack_cfg(name, embedding=5)).eval()
    tokens = torch.randint(11, (2, 30))  # (B, T)
    with torch.no_grad():
        parallel, state_p = lm(tokens)  # (T, B, V)
        logits, state = lm(tokens[:, :4])  # a prefix warms the state up, as generate does
        steps = [logits]
        for t in range(4, 30):
            out, state = lm(tokens[:, t : t + 1], state)  # (1, B, V): the step form
            steps.append(out)
    torch.testing.assert_close(torch.cat(steps), parallel, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state, state_p, rtol=1e-5, atol=1e-5)


def test_one_hot_ids_are_a_row_lookup_of_the_projection():
    torch.manual_seed(0)
    stack = SequenceStack(stack_cfg(), 11).double()
    ids = torch.randint(11, (7, 2))
    one_hot = torch.nn.functional.one_hot(ids, 11).double()
    torch.testing.assert_close(stack(ids)[0], stack(one_hot)[0])


def test_states_of_any_length_and_shape_are_detached_and_restarted():
    parts = (torch.ones(2, 3, 4, requires_grad=True), torch.ones(2, 3, 4, 5), torch.ones(2, 3))
    detached = detach_state(parts)
    assert len(detached) == 3 and not any(p.requires_grad for p in detached)
    kept = scale_rows(detached, torch.tensor([1.0, 0.0, 1.0]))
    for part in kept:
        assert part[:, 1].abs().sum() == 0 and part[:, 0].abs().sum() > 0


def test_mingru_is_the_reference_implementation():
    """mingru-pytorch's minGRU (batch first, no bias, rows h_tilde then z) with our weights."""
    import minGRU_pytorch as mingru_pytorch  # the dev extra installs it

    m = layer("mingru", D=4, H=4, dtype=torch.float64, scale=3.0)
    with torch.no_grad():
        m.proj.bias.zero_()
    ref = mingru_pytorch.minGRU(4).double()
    w_z, w_h = m.proj.weight.chunk(2)
    ref.to_hidden_and_gate.weight.data = torch.cat([w_h, w_z])
    x = torch.randn(3, 40, 4, dtype=torch.float64)  # (B, T, D)
    h0 = torch.rand(3, 4, dtype=torch.float64) + 0.1  # theirs takes log h0: positive only
    with torch.no_grad():
        ours, _ = m(x.transpose(0, 1), (h0,))  # (T, B, H)
        theirs = ref(x, h0.unsqueeze(1))  # (B, T, H)
        ours_step, _ = m(x[:, :1].transpose(0, 1), (h0,))
        theirs_step = ref(x[:, :1], h0.unsqueeze(1))
    torch.testing.assert_close(ours.transpose(0, 1), theirs)
    torch.testing.assert_close(ours_step.transpose(0, 1), theirs_step)


def test_minlstm_is_the_reference_implementation_where_it_is_consistent():
    """mingru-pytorch's minLSTM (rows h_tilde, f, i). Its parallel form takes log g(h_0)
    of a given start state (as the paper's appendix code does), which is not the h_0 its
    own step form uses; so the parallel forms are compared from h_0 = 0 and the step
    forms from a given h_0."""
    from minGRU_pytorch import minLSTM

    m = layer("minlstm", D=4, H=4, dtype=torch.float64, scale=3.0)
    with torch.no_grad():
        m.proj.bias.zero_()
    ref = minLSTM.minLSTM(4).double()
    w_f, w_i, w_h = m.proj.weight.chunk(3)
    ref.to_hidden_and_f_i_gate.weight.data = torch.cat([w_h, w_f, w_i])
    x = torch.randn(3, 40, 4, dtype=torch.float64)  # (B, T, D)
    h0 = torch.randn(3, 4, dtype=torch.float64)
    with torch.no_grad():
        ours, _ = m(x.transpose(0, 1))  # from zeros
        theirs = ref(x)
        ours_step, _ = m(x[:, :1].transpose(0, 1), (h0,))
        theirs_step = ref(x[:, :1], h0.unsqueeze(1))
    torch.testing.assert_close(ours.transpose(0, 1), theirs)
    torch.testing.assert_close(ours_step.transpose(0, 1), theirs_step)


def test_the_gradient_flows_back_through_the_product_of_the_gates():
    """One layer, the loss at the last step only: dL/dh_t = a_{t+1} ⊙ dL/dh_{t+1} with
    0 < a < 1, so every example's norm, and their mean, falls with the distance."""
    torch.manual_seed(0)
    lm = LanguageModel(9, ModelConfig(cell="mingru", impl="scratch", hidden_size=6))
    tokens, targets = torch.randint(9, (2, 12)), torch.randint(9, (2, 12))
    curves = sequence_grad_flow(lm, tokens, targets)
    assert list(curves) == ["h1"] and len(curves["h1"]) == 12
    norms = curves["h1"]
    assert norms[0] > 0 and all(b < a for a, b in zip(norms, norms[1:]))
    assert all(p.grad is None for p in lm.parameters())  # a copy was measured


def cli(*argv: str):
    result = runner.invoke(app, [str(a) for a in argv])
    assert result.exit_code == 0, result.output
    return result


def test_train_predict_resume_evaluate_export_inspect(tmp_path):
    config = REPO / "configs" / "tiny_mingru.yaml"
    out = cli("train", config, "train.epochs=1", "train.log_grad_flow=true", "--out", tmp_path,
              "--quiet").stdout.strip().splitlines()[-1]  # fmt: skip
    run = Path(out)
    assert (run / "grad_flow.csv").read_text().count("\n") > 1
    text = cli("predict", "--run", run, "--prefix", "time traveller").stdout
    assert text.startswith("time traveller") and len(text.strip()) > len("time traveller")
    cli("train", "--resume", run, "train.epochs=2", "--quiet")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs"] == 2
    lines = cli("evaluate", run, "--dynamic").stdout
    assert "static" in lines and "dynamic" in lines
    exported = cli("export", run, "--format", "torchscript").stdout
    assert "max |diff| from PyTorch" in exported and (run / "export" / "model.pt").exists()
    check_trace_holds_for_any_length(run)
    refused = runner.invoke(app, ["inspect", str(run), "--unit", "1:0"])
    assert refused.exit_code == 2 and "the units page is for the gated cells" in refused.output
    assert not (run / "inspect").exists()
    inspected = cli("inspect", run, "--grad-flow").stdout
    assert "h2" in inspected and (run / "inspect" / "grad_flow.csv").exists()


def test_nothing_to_compile():
    cfg = ModelConfig(cell="minlstm", impl="scratch")
    assert resolve_compile(cfg, "cuda", 10**6) == (
        False,
        "minlstm is a sequence layer: no time loop to compile",
    )


def test_onnx_export_is_refused_in_one_line(tmp_path):
    config = REPO / "configs" / "tiny_minlstm.yaml"
    run = Path(cli("train", config, "train.epochs=1", "--out", tmp_path, "--quiet")
               .stdout.strip().splitlines()[-1])  # fmt: skip
    result = runner.invoke(app, ["export", str(run), "--format", "onnx"])
    assert result.exit_code == 2 and "cannot be exported to ONNX" in result.output
    assert not (run / "export").exists()


def check_trace_holds_for_any_length(run: Path) -> None:
    """The exported step function at lengths the trace never saw (1 and 40 tokens)."""
    import warnings

    from rnnlab.inference.predict import load_model
    from rnnlab.runs import Run

    _, _, artifacts, model = load_model(Run.open(run), "best", torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.load(str(run / "export" / "model.pt"))
    for T in (1, 40):
        ids = torch.randint(len(artifacts.vocab), (2, T))  # (B, T)
        h = torch.rand(2, 2, 16)  # (L, B, H)
        with torch.no_grad():
            logits, h_out = traced(ids, h)
            expected, (h_expected,) = model(ids, (h,))
        torch.testing.assert_close(logits, expected.transpose(0, 1), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(h_out, h_expected, rtol=1e-4, atol=1e-4)
