"""`rnnlab export`: every cell (rnn, gru, lstm), 1 and 2 layers, builtin and
scratch, language models and (bidirectional) classifiers, exported to ONNX and
TorchScript, gives the run's PyTorch model's outputs to 1e-5 on inputs the export did not
see; docs/export.md's onnxruntime example generates `rnnlab predict`'s greedy text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import Config, DataConfig, ModelConfig, dump_config
from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.inference.export import export_run
from rnnlab.inference.predict import load_model
from rnnlab.models import LanguageModel, SequenceClassifier
from rnnlab.runs import Run

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
V, H, CLASSES = 11, 6, ["neg", "pos", "meh"]


def make_run(path: Path, model: ModelConfig, classifier: bool) -> Path:
    """A run folder (config, vocab, labels, best.pt) holding a randomly initialised model."""
    data = DataConfig(dataset="digitsum", length=5) if classifier else DataConfig()
    cfg = Config(data=data, model=model)
    torch.manual_seed(0)
    if classifier:
        net = SequenceClassifier(V, len(CLASSES), model)
        (path / "labels.json").parent.mkdir(parents=True)
        (path / "labels.json").write_text(json.dumps({"classes": CLASSES}))
    else:
        net = LanguageModel(V, model)
    run = Run(path)
    run.dir.mkdir(parents=True, exist_ok=True)
    run.config_path.write_text(dump_config(cfg))
    Vocab(["<unk>", *"abcdefghij"]).save(run.vocab_path)
    run.save_checkpoint("best", {"model": net.state_dict()})
    return path


def reference(path: Path, classifier: bool):
    """The run's own PyTorch model (scratch cells stay scratch) as a function of numpy."""
    run = Run(path)
    _, _, _, model = load_model(run, "best", torch.device("cpu"))  # labels.json: a classifier

    @torch.no_grad()
    def run_model(*args):
        tensors = [torch.as_tensor(a) for a in args]
        if classifier:
            return [torch.softmax(model(*tensors), -1).numpy()]
        ids, *state = tensors
        logits, out = model(ids, tuple(state) if len(state) == 2 else state[0])
        out = out if isinstance(out, tuple) else (out,)
        return [logits.transpose(0, 1).numpy(), *(s.numpy() for s in out)]

    return run_model


def check_inputs(meta: dict, classifier: bool, layers: int, dirs: int):
    rng = np.random.default_rng(1)
    B, T = 4, 9
    ids = rng.integers(0, V, (B, T)).astype(np.int64)
    if classifier:
        return [ids, np.array([9, 1, 5, 3], np.int64)]
    shape = (layers * dirs, B, H)
    return [ids, *(rng.standard_normal(shape).astype(np.float32) for _ in meta["inputs"][1:])]


CASES = [
    *[("lm", cell, layers, impl, False) for cell in ("rnn", "gru", "lstm") for layers in (1, 2)
      for impl in ("builtin", "scratch")],
    *[("classifier", cell, layers, impl, bi) for cell in ("rnn", "gru", "lstm") for layers in (1, 2)
      for impl, bi in (("builtin", True), ("scratch", True), ("builtin", False))],
]  # fmt: skip


@pytest.mark.parametrize("kind, cell, layers, impl, bidirectional", CASES)
def test_onnx_and_torchscript_match_pytorch(tmp_path, kind, cell, layers, impl, bidirectional):
    classifier = kind == "classifier"
    embedding = 4 if classifier else "one_hot"
    model = ModelConfig(cell=cell, impl=impl, hidden_size=H, num_layers=layers,
                        bidirectional=bidirectional, embedding=embedding)  # fmt: skip
    run = make_run(tmp_path / "run", model, classifier)
    expected_fn = reference(run, classifier)
    onnx_file = export_run(run, "best", "onnx", None).path
    ts_file = export_run(run, "best", "torchscript", None).path
    meta = json.loads((onnx_file.parent / "model.onnx.json").read_text())
    args = check_inputs(meta, classifier, layers, 2 if bidirectional else 1)
    expected = expected_fn(*args)
    import onnxruntime as ort  # here: a second to import, for the tests that use it

    session = ort.InferenceSession(str(onnx_file))
    got_onnx = session.run(None, dict(zip(meta["inputs"], args)))
    module = torch.jit.load(str(ts_file))
    with torch.no_grad():
        got_ts = module(*(torch.as_tensor(a) for a in args))
    got_ts = [t.numpy() for t in (got_ts if isinstance(got_ts, tuple) else (got_ts,))]
    assert len(got_onnx) == len(got_ts) == len(expected) == len(meta["outputs"])
    for name, e, o, t in zip(meta["outputs"], expected, got_onnx, got_ts):
        np.testing.assert_allclose(o, e, rtol=0, atol=1e-5, err_msg=f"onnx {name}")
        np.testing.assert_allclose(t, e, rtol=0, atol=1e-5, err_msg=f"torchscript {name}")
    assert (onnx_file.parent / "vocab.json").is_file()
    assert (onnx_file.parent / "labels.json").is_file() == classifier


def test_the_residual_srn_is_refused(tmp_path):
    model = ModelConfig(cell="rnn", impl="scratch", residual=True, hidden_size=H)
    run = make_run(tmp_path / "run", model, classifier=False)
    with pytest.raises(RnnlabError, match="residual SRN"):
        export_run(run, "best", "onnx", None)


def docs_example() -> str:
    text = (REPO / "docs" / "export.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    assert len(blocks[0].splitlines()) <= 35
    return blocks[0]


def test_the_docs_example_generates_what_predict_does(tmp_path):
    argv = ["train", str(REPO / "configs" / "tiny.yaml"), "model.cell=lstm",
            "model.num_layers=2", "--out", str(tmp_path), "--quiet"]  # fmt: skip
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    out = tmp_path / "exported" / "model.onnx"
    result = runner.invoke(app, ["export", str(run), "--format", "onnx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(str(out))
    (tmp_path / "generate.py").write_text(docs_example())
    for prefix in ("time traveller", "the "):
        predicted = runner.invoke(
            app, ["predict", "--run", str(run), "--prefix", prefix, "-n", "40"]
        )
        assert predicted.exit_code == 0, predicted.output
        example = subprocess.run(
            [sys.executable, str(tmp_path / "generate.py"), str(out.parent), prefix, "40"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert example.stdout == predicted.stdout
        assert len(example.stdout.strip()) == len(prefix.strip()) + 40 or prefix.endswith(" ")


def test_without_the_export_extra_onnx_names_it(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run", ModelConfig(hidden_size=H), classifier=False)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = runner.invoke(app, ["export", str(run), "--format", "onnx"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --format onnx needs onnx and onnxruntime, which are not installed: "
        "pip install 'rnnlab[export]'"
    )
    assert not (run / "export").exists()


WEIGHT_DROP_CASES = [("lstm", "builtin", False), ("gru", "builtin", True), ("lstm", "scratch", False),
                     ("lstm", "scratch", True)]  # fmt: skip


@pytest.mark.parametrize("cell, impl, tied", WEIGHT_DROP_CASES)
def test_a_weight_dropped_model_exports_its_evaluation_weights(tmp_path, cell, impl, tied):
    """The exporter put every submodule back in training mode after the export, so the
    comparison ran PyTorch with weight drop on; the file itself holds the evaluation
    weights, and now matches."""
    model = ModelConfig(cell=cell, impl=impl, hidden_size=H, weight_drop=0.5,
                        embedding=H if tied else "one_hot", tie_weights=tied)  # fmt: skip
    run = make_run(tmp_path / "run", model, classifier=False)
    expected_fn = reference(run, classifier=False)
    onnx_file = export_run(run, "best", "onnx", None).path
    meta = json.loads((onnx_file.parent / "model.onnx.json").read_text())
    args = check_inputs(meta, False, 1, 1)
    import onnxruntime as ort  # here: a second to import, for the tests that use it

    got = ort.InferenceSession(str(onnx_file)).run(None, dict(zip(meta["inputs"], args)))
    for name, e, o in zip(meta["outputs"], expected_fn(*args), got):
        np.testing.assert_allclose(o, e, rtol=0, atol=1e-5, err_msg=f"onnx {name}")


def test_a_failed_comparison_keeps_the_earlier_export_and_leaves_no_file(tmp_path, monkeypatch):
    from rnnlab.inference import export

    run = make_run(tmp_path / "run", ModelConfig(cell="gru", hidden_size=H), classifier=False)
    good = export_run(run, "best", "onnx", None).path
    before = good.read_bytes()
    monkeypatch.setattr(export, "compare", lambda *args: 0.5)
    with pytest.raises(RnnlabError, match=r"does not match the PyTorch model \(max \|diff\| 0.5\)"):
        export_run(run, "best", "onnx", None)
    assert good.read_bytes() == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["model.onnx", "model.onnx.json",
                                                              "vocab.json"]  # fmt: skip


def test_export_to_a_folder_writes_inside_it_and_a_file_in_the_way_is_one_line(tmp_path):
    run = make_run(tmp_path / "run", ModelConfig(cell="gru", hidden_size=H), classifier=False)
    folder = tmp_path / "out"
    folder.mkdir()
    result = runner.invoke(app, ["export", str(run), "--format", "onnx", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "model.onnx.json",
                                                         "vocab.json"]  # fmt: skip
    (tmp_path / "file").write_text("")
    refused = runner.invoke(
        app, ["export", str(run), "--format", "onnx", "--out", str(tmp_path / "file" / "m.onnx")]
    )
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        f"error: cannot export to {tmp_path}/file/m.onnx: {tmp_path}/file is a file, not a folder"
    ]


def test_a_scratch_mgu_is_refused_with_advice_that_fits(tmp_path):
    run = make_run(tmp_path / "run", ModelConfig(cell="mgu", impl="scratch", hidden_size=H),
                   classifier=False)  # fmt: skip
    with pytest.raises(RnnlabError, match="no torch.nn layer for ONNX to map") as err:
        export_run(run, "best", "onnx", None)
    assert "set model.impl: scratch" not in str(err.value)
