"""`rnnlab export RUN --format onnx|torchscript`: a trained model as a file that runs
without rnnlab (onnxruntime, or `torch.jit.load`), with its vocabulary beside it.

- A language model becomes a step function, so generation can run anywhere:
  `ids (B, T) int64, h (L * dirs, B, H) [, c (L * dirs, B, H) for the LSTM]
  -> logits (B, T, V), h_out [, c_out]`; zeros for h (and c) start a sequence.
- A classifier becomes `ids (B, T) int64 right-padded, lengths (B,) int64
  -> probs (B, C)` (softmax over the classes of labels.json).

Scratch-cell models (`model.impl: scratch`) are exported through the builtin model with
the same weights (`to_builtin_state_dict`: the names and gate order are torch.nn's), since
their autograd-function loops cannot be traced; the residual SRN has no builtin
equivalent and is refused. Sequence layers (mingru, minlstm: docs/frontier.md) are traced
as they are, their scan in one chunk so the trace holds for any length; they export to
TorchScript only (ONNX has no operator for their log-space scan). Beside the model file go vocab.json, labels.json
(classifiers) and `<file>.json`, e.g. model.onnx.json (what the inputs and outputs are,
the state's shape, char or word tokens).

After writing, the file is run (onnxruntime, or the loaded TorchScript module) on inputs
the export did not see, of another batch size and length, and compared with the PyTorch
model; the largest difference is reported, and a file that disagrees is an error.
"""

from __future__ import annotations

import dataclasses
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnlab.config import load_config
from rnnlab.errors import RnnlabError
from rnnlab.models import LanguageModel, SequenceClassifier
from rnnlab.models.cells import CELLS
from rnnlab.models.cells.sequence import SequenceLayer
from rnnlab.models.scratch import Scratch, to_builtin_state_dict
from rnnlab.runs import Run
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.strictjson import dumps

from .predict import load_model

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
INSTALL = "pip install 'rnnlab[export]'"
TOLERANCE = 1e-4  # the largest |difference| from PyTorch an exported file may show
TRACE_CHUNK = 1 << 30  # a sequence layer's scan chunk when traced: one chunk, any length


class LMStep(nn.Module):
    """A language model as a step function: ids (B, T), state in; logits (B, T, V), state out."""

    def __init__(self, lm: LanguageModel, lstm: bool, sequence: bool = False):
        super().__init__()
        self.lm, self.lstm, self.sequence = lm, lstm, sequence  # sequence: state is (h,)

    def forward(self, ids: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None = None):
        if self.sequence:  # a sequence layer's state is the tuple (h,)
            logits, (h_out,) = self.lm(ids, (h,))  # (T, B, V)
            return logits.transpose(0, 1), h_out  # (B, T, V), (L * dirs, B, H)
        logits, state = self.lm(ids, (h, c) if self.lstm else h)  # (T, B, V)
        logits = logits.transpose(0, 1)  # (B, T, V)
        return (logits, *state) if self.lstm else (logits, state)


class ClassifierProbs(nn.Module):
    """A classifier as ids (B, T) right-padded, lengths (B,) -> class probabilities (B, C)."""

    def __init__(self, classifier: SequenceClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(ids, lengths), -1)  # (B, C)


@dataclass
class Exported:
    path: Path
    max_diff: float  # the largest |exported - PyTorch| on the check inputs


def export_run(run_dir: Path, which: str, fmt: str, out: Path | None) -> Exported:
    """Export the run's `which` checkpoint (best, last) as `fmt`, to `out` (default:
    RUN/export/model.onnx or model.pt); write vocab.json, labels.json and <file>.json beside."""
    if fmt not in FORMATS:
        raise RnnlabError(f"--format must be onnx or torchscript, got {fmt!r}")
    if which not in ("best", "last"):
        raise RnnlabError(f"--checkpoint must be best or last, got {which!r}")
    run = Run.open(run_dir)
    cfg = load_config(run.config_path)
    sequence = CELLS.get(cfg.model.cell).sequence
    if sequence:
        check_sequence_export(cfg.model.cell, fmt)
    if fmt == "onnx":
        import_onnx()
    _, _, artifacts, model = load_model(run, which, torch.device("cpu"))
    vocab, classes = artifacts.vocab, (artifacts.classes or None)
    # no torch.nn twin to trace, and no parallel form that traces: one step, a scripted loop
    stepwise = CELLS.get(cfg.model.cell).torch_layer is None and not sequence
    if stepwise:
        check_stepwise(cfg.model.cell, fmt, classes)
    else:
        model = builtin_equivalent(model, cfg.model, len(vocab), classes)
    wrapper: nn.Module
    if classes is None:
        assert isinstance(model, LanguageModel)  # a run without labels is a language model
        wrapper = LMStep(model, CELLS.get(cfg.model.cell).memory, sequence)
    else:
        assert isinstance(model, SequenceClassifier)
        wrapper = ClassifierProbs(model)
    out = out_file(Path(out) if out else run.dir / "export" / f"model{FORMATS[fmt]}", fmt)
    wrapper.eval()  # the evaluation weights (no dropout, no weight drop), also for compare
    signature = describe(wrapper, cfg.model)
    max_diff = write_checked(wrapper, fmt, signature, len(vocab), out, stepwise)
    shutil.copyfile(run.vocab_path, out.parent / "vocab.json")
    if classes is not None:
        shutil.copyfile(run.labels_path, out.parent / "labels.json")
    meta = {"format": fmt, "file": out.name, "run": str(run.dir), "checkpoint": which,
            "token": cfg.data.token, **signature}  # fmt: skip
    write_atomic(out.parent / f"{out.name}.json", dumps(meta, f"{out}.json", indent=2) + "\n")
    return Exported(out, max_diff)


def check_sequence_export(cell: str, fmt: str) -> None:
    """A sequence layer exports when its class says it traces for any length (and its
    state is (h,)), to TorchScript only; RnnlabError before anything is written."""
    if not getattr(CELLS.get(cell).load_layer(), "traceable", False):
        raise RnnlabError(
            f"model.cell: {cell} cannot be exported yet: its parallel form's loops depend on "
            "the length, so a traced file would not hold for other lengths"
        )
    if fmt == "onnx":
        raise RnnlabError(
            f"model.cell: {cell} cannot be exported to ONNX: its log-space scan "
            "(logcumsumexp) has no ONNX operator; use --format torchscript"
        )


def out_file(out: Path, fmt: str) -> Path:
    """The file to write: `out`, or model.onnx / model.pt inside it when it is a folder;
    its folder made (one line when a file is in the way)."""
    if out.is_dir():
        out = out / f"model{FORMATS[fmt]}"
    for parent in [out.parent, *out.parent.parents]:
        if parent.exists() and not parent.is_dir():
            raise RnnlabError(f"cannot export to {out}: {parent} is a file, not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RnnlabError(f"cannot export to {out}: {err.strerror}") from None
    if out.is_dir():  # FOLDER/model.onnx is itself a folder
        raise RnnlabError(f"cannot export to {out}: it is a folder")
    return out


def write_checked(
    wrapper: nn.Module, fmt: str, signature: dict, vocab_size: int, out: Path, stepwise: bool
):
    """Write the model to a temporary file, run it against PyTorch, and only then put it
    in place of `out`: a file that disagrees (or any failure) is removed, and an earlier
    good export at `out` is kept. The largest |difference|."""
    example, check = inputs(wrapper, vocab_size, 1, 3), inputs(wrapper, vocab_size, 3, 7)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if fmt == "onnx":
            to_onnx(wrapper, example, signature, tmp)
            max_diff = compare(wrapper, check, onnx_runner(tmp, signature))
        else:
            to_torchscript(wrapper, example, tmp, stepwise)
            max_diff = compare(wrapper, check, torchscript_runner(tmp))
        if not max_diff <= TOLERANCE:
            raise RnnlabError(
                f"the {fmt} export does not match the PyTorch model (max |diff| "
                f"{max_diff:.3g}): not written, {out} left as it was"
            )
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return max_diff


def import_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError:
        raise RnnlabError(
            f"--format onnx needs onnx and onnxruntime, which are not installed: {INSTALL}"
        ) from None
    return onnxruntime


def builtin_equivalent(model: nn.Module, model_cfg, vocab_size: int, classes) -> nn.Module:
    """`model` itself if builtin; else the builtin model holding the scratch one's weights."""
    if model_cfg.impl == "builtin":
        return model
    if CELLS.get(model_cfg.cell).sequence:  # traced as it is, one scan chunk for any length
        for layer in model.modules():
            if isinstance(layer, SequenceLayer):
                layer.prepare_trace(TRACE_CHUNK)
        return model
    if model_cfg.residual:
        raise RnnlabError(
            "a residual SRN (model.residual: true) cannot be exported: torch.nn has no "
            "layer with its equation, and its scratch loop cannot be traced"
        )
    builtin_cfg = dataclasses.replace(model_cfg, impl="builtin", compile=False)
    twin: nn.Module
    if classes is None:
        twin = LanguageModel(vocab_size, builtin_cfg)
    else:
        twin = SequenceClassifier(vocab_size, len(classes), builtin_cfg)
    twin.load_state_dict(builtin_state_dict(model, model_cfg))
    return twin.eval()


def builtin_state_dict(model: nn.Module, model_cfg) -> dict:
    """The model's state_dict with every scratch stack's weights passed through
    `to_builtin_state_dict` (a bidirectional classifier has one stack per layer and
    direction, each a one-layer, one-direction stack)."""
    state = model.state_dict()
    for path, stack in model.named_modules():
        if isinstance(stack, Scratch):
            shape = dataclasses.replace(model_cfg, num_layers=stack.num_layers,
                                        bidirectional=stack.directions == 2)  # fmt: skip
            own = {k.removeprefix(f"{path}."): v for k, v in state.items()
                   if k.startswith(f"{path}.")}  # fmt: skip
            state.update({f"{path}.{k}": v for k, v in to_builtin_state_dict(own, shape).items()})
    return state


def describe(wrapper: nn.Module, model_cfg) -> dict:
    """<file>.json's account of the inputs and outputs."""
    if isinstance(wrapper, ClassifierProbs):
        return {"kind": "classifier", "inputs": ["ids", "lengths"], "outputs": ["probs"]}
    states = ["h", "c"] if wrapper.lstm else ["h"]
    directions = 2 if model_cfg.bidirectional else 1
    return {
        "kind": "language_model",
        "inputs": ["ids", *states],
        "outputs": ["logits", *(f"{s}_out" for s in states)],
        "state_shape": [model_cfg.num_layers * directions, "batch", model_cfg.hidden_size],
    }


def inputs(wrapper: nn.Module, vocab_size: int, batch: int, steps: int) -> tuple:
    """Inputs of the wrapper's signature: random ids and states (seeded), varied lengths."""
    g = torch.Generator().manual_seed(batch * 100 + steps)
    ids = torch.randint(0, vocab_size, (batch, steps), generator=g)  # (B, T)
    if isinstance(wrapper, ClassifierProbs):
        lengths = torch.randint(1, steps + 1, (batch,), generator=g)  # (B,)
        lengths[0] = steps
        return ids, lengths
    assert isinstance(wrapper, LMStep)  # the two wrappers export makes
    lm = wrapper.lm
    shape = (lm.rnn.num_layers * lm.rnn.directions, batch, lm.rnn.hidden_size)  # (L*D, B, H)
    states = [torch.randn(shape, generator=g) for _ in range(2 if wrapper.lstm else 1)]
    return (ids, *states)


def to_onnx(wrapper: nn.Module, example: tuple, signature: dict, out: Path) -> None:
    """The TorchScript-based exporter: torch.nn's RNN layers become ONNX RNN/GRU/LSTM ops
    and batch and time stay dynamic (the dynamo exporter takes ~30 s a model here)."""
    batch_first = {"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "probs": {0: "batch"},
                   "logits": {0: "batch", 1: "time"}}  # fmt: skip
    axes = {n: batch_first.get(n, {1: "batch"}) for n in signature["inputs"] + signature["outputs"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(wrapper, example, str(out), input_names=signature["inputs"],
                          output_names=signature["outputs"], dynamic_axes=axes,
                          training=torch.onnx.TrainingMode.EVAL, dynamo=False)  # fmt: skip
    wrapper.eval()  # the exporter puts back the mode it found, on every submodule


def to_torchscript(wrapper: nn.Module, example: tuple, out: Path, stepwise: bool) -> None:
    """Trace the wrapper; `stepwise`: trace one step and script the loop over time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = time_loop(wrapper, example) if stepwise else torch.jit.trace(wrapper, example)
        torch.jit.save(traced, str(out))


class TimeLoop(nn.Module):
    """A language model's traced one-step function run over every step of `ids` (B, T):
    a cell with no torch.nn layer runs its scratch loop, which a trace would fix to the
    example's length, so the loop is scripted and only one step is traced."""

    def __init__(self, step: nn.Module):
        super().__init__()
        self.step = step

    def forward(self, ids: torch.Tensor, h: torch.Tensor):
        outs: list[torch.Tensor] = []
        for t in range(ids.shape[1]):
            logits, h = self.step(ids[:, t : t + 1], h)  # (B, 1, V), (L*D, B, H)
            outs.append(logits)
        return torch.cat(outs, 1), h  # (B, T, V)


class TimeLoopWithMemory(nn.Module):
    """`TimeLoop` for a cell whose state is (h, c)."""

    def __init__(self, step: nn.Module):
        super().__init__()
        self.step = step

    def forward(self, ids: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        outs: list[torch.Tensor] = []
        for t in range(ids.shape[1]):
            logits, h, c = self.step(ids[:, t : t + 1], h, c)  # (B, 1, V), (L*D, B, H) x 2
            outs.append(logits)
        return torch.cat(outs, 1), h, c  # (B, T, V)


def time_loop(wrapper: nn.Module, example: tuple):
    """The scripted loop over a one-step trace of `wrapper` (an `LMStep`)."""
    assert isinstance(wrapper, LMStep)  # check_stepwise refuses classifiers
    step = torch.jit.trace(wrapper, (example[0][:, :1], *example[1:]))
    return torch.jit.script(TimeLoopWithMemory(step) if wrapper.lstm else TimeLoop(step))


def check_stepwise(cell: str, fmt: str, classes) -> None:
    """What a cell with no torch.nn layer can be exported as: a TorchScript language model."""
    if fmt != "torchscript":
        raise RnnlabError(
            f"model.cell: {cell} has no torch.nn layer for ONNX to map: use --format torchscript"
        )
    if classes is not None:
        raise RnnlabError(
            f"a classifier with model.cell: {cell} (no torch.nn layer) cannot be exported; "
            "language models can (--format torchscript)"
        )


def onnx_runner(path: Path, signature: dict):
    session = import_onnx().InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = signature["inputs"]
    return lambda *args: session.run(None, {n: a.numpy() for n, a in zip(names, args)})


def torchscript_runner(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated, and still loads
        module = torch.jit.load(str(path))
    return lambda *args: [t.numpy() for t in _as_tuple(module(*args))]


@torch.no_grad()
def compare(wrapper: nn.Module, args: tuple, run) -> float:
    """max |exported - PyTorch| over every output, on `args`."""
    expected = [t.numpy() for t in _as_tuple(wrapper(*args))]
    got = run(*args)
    return max(float(np.abs(np.asarray(g) - e).max()) for g, e in zip(got, expected))


def _as_tuple(outputs) -> tuple | list:
    return outputs if isinstance(outputs, (tuple, list)) else (outputs,)
