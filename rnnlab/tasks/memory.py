"""The memory benchmarks (docs/memory.md): regression (adding), per-step sequence outputs
(copy, selective copy, recall) and sequence classification (digits), over the splits a
`MemoryDataset` gives. One task class serves them all, set by the dataset's `kind`;
`memory_tasks.py` registers it once per dataset with that dataset's key metric.

Losses and metrics, per split (`dev_*` at each evaluation, `test_*` once with best.pt):
- regress: `loss` = `mse`, the mean squared error of the one output;
- sequence: `loss`, cross-entropy averaged over the steps that have a target (target >= 0:
  every step of the copy problem, the marker or query steps of the others); `acc`, the
  share of data symbols right (targets > 0: blanks and noise are id 0 and not counted);
  `seq_acc`, the share of sequences whose data symbols are all right;
- classify: `loss`, cross-entropy, and `acc`.
"""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.data.memory import MemoryData, MemoryDataset
from rnnlab.data.memory import describe as describe_kind
from rnnlab.errors import RnnlabError
from rnnlab.models import MemoryModel
from rnnlab.runs.plots import plot_curves

from .base import Artifacts, BatchResult, Task

EVAL_BATCH_FACTOR = 4  # evaluation batches are this many times larger (no gradients kept)


class MemoryTask(Task):
    serves: type[MemoryDataset]
    predict_option = ""  # no `rnnlab predict` input: `rnnlab evaluate` scores these runs
    reports_test = True

    def __init_subclass__(cls, **kwargs):
        """A task's key metric is its dataset's (`dev_mse`, `dev_acc`), as is its direction."""
        super().__init_subclass__(**kwargs)
        cls.key_metric = f"dev_{cls.serves.key_metric}"
        cls.higher_is_better = cls.serves.higher_is_better

    def __init__(self, cfg, device: torch.device, data: MemoryData):
        self.cfg, self.device, self.data = cfg, device, data
        self.kind = self.serves.kind
        self.rng = np.random.Generator(np.random.PCG64(cfg.seed))  # batch order, resumable
        self.tensors = {split: self.to_device(*data.split(split)) for split in data.splits}

    def to_device(self, inputs: np.ndarray, targets: np.ndarray):
        x = torch.as_tensor(inputs)
        x = x.float() if self.serves.real_inputs else x.long()  # (N, T, F) or (N, T)
        y = torch.as_tensor(targets)
        y = y.float() if self.kind == "regress" else y.long()  # (N,) or (N, T)
        return x.to(self.device), y.to(self.device)

    def artifacts(self) -> Artifacts:
        return Artifacts(self.data.vocab)

    @classmethod
    def model_for(cls, cfg, artifacts: Artifacts) -> MemoryModel:
        data, vocab = cls.serves, len(artifacts.vocab)
        per_step = data.kind == "sequence"  # a symbol out of the input vocabulary per step
        outputs = vocab if per_step else data.outputs({})
        return MemoryModel(cfg.model, vocab, data.real_inputs, outputs, per_step)

    def save_artifacts(self, run) -> None:
        self.data.vocab.save(run.vocab_path)

    @classmethod
    def describe(cls, cfg) -> str:
        return f"{describe_kind(cls.serves)} ({cfg.data.dataset})"

    @classmethod
    def read_input(cls, cfg, artifacts: Artifacts, given: str) -> list[str]:
        raise RnnlabError(f"rnnlab predict takes no input for {cls.describe(cfg)}")

    # --- training ---
    def epoch_batches(self, skip: int = 0):
        x, y = self.tensors["train"]
        order = self.rng.permutation(len(x))  # (N,)
        size = self.cfg.data.batch_size
        for start in range(skip * size, len(order), size):
            index = torch.as_tensor(order[start : start + size], device=self.device)
            yield x[index], y[index]

    def batches_per_epoch(self) -> int:
        return -(-len(self.tensors["train"][0]) // self.cfg.data.batch_size)

    def loss(self, model, batch) -> BatchResult:
        inputs, targets = batch  # (B, T[, F]), (B[, T])
        sums = self.sums(model(inputs), targets)
        n = len(targets)
        tokens = n * inputs.shape[1]
        if self.kind == "regress":
            return BatchResult(sums["mse"] / n, n, tokens)
        if self.kind == "classify":
            return BatchResult(sums["loss"] / n, n, tokens, {"train_acc": sums["acc"]})
        scored = sums.pop("scored")  # the loss is a mean over the steps with a target
        return BatchResult(sums["loss"] / scored, n, tokens, {"train_seq_acc": sums["seq_acc"]})

    def sums(self, out: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-batch sums: squared errors; or cross-entropy, symbols (or sequences) right."""
        if self.kind == "regress":
            return {"mse": ((out.squeeze(-1) - targets) ** 2).sum()}  # out (B, 1)
        if self.kind == "classify":
            loss = F.cross_entropy(out, targets, reduction="sum")  # out (B, C)
            return {"loss": loss, "acc": (out.argmax(-1) == targets).sum()}
        loss = F.cross_entropy(
            out.flatten(0, 1), targets.flatten(), ignore_index=-1, reduction="sum"
        )
        symbols = targets > 0  # (B, T) data symbols to output
        right = (out.argmax(-1) == targets) & symbols  # (B, T)
        whole = (right.sum(1) == symbols.sum(1)).sum()  # sequences with every symbol right
        return {
            "loss": loss,
            "scored": (targets >= 0).sum(),
            "acc": right.sum(),
            "symbols": symbols.sum(),
            "seq_acc": whole,
        }

    # --- evaluation ---
    @torch.no_grad()
    def score(self, model, split: str) -> dict[str, float]:
        """The split's metrics, with one host sync."""
        was_training = model.training
        model.eval()
        x, y = self.tensors[split]
        size = self.cfg.data.batch_size * EVAL_BATCH_FACTOR
        totals: dict[str, torch.Tensor] = {}
        for start in range(0, len(x), size):
            for key, value in self.sums(
                model(x[start : start + size]), y[start : start + size]
            ).items():
                totals[key] = totals.get(key, 0) + value.float()
        model.train(was_training)
        sums = dict(zip(totals, torch.stack(list(totals.values())).tolist()))
        return self.metrics(sums, len(x))

    def metrics(self, sums: dict[str, float], n: int) -> dict[str, float]:
        if self.kind == "regress":
            return {"loss": sums["mse"] / n, "mse": sums["mse"] / n}
        if self.kind == "classify":
            return {"loss": sums["loss"] / n, "acc": sums["acc"] / n}
        return {
            "loss": sums["loss"] / max(sums["scored"], 1),
            "acc": sums["acc"] / max(sums["symbols"], 1),
            "seq_acc": sums["seq_acc"] / n,
        }

    def evaluate(self, model) -> dict:
        return {f"dev_{k}": v for k, v in self.score(model, "dev").items()}

    def test(self, model) -> dict:
        return {f"test_{k}": v for k, v in self.score(model, "test").items()}

    def data_sizes(self) -> dict:
        return {split: len(x) for split, (x, _) in self.tensors.items()}

    def plot(self, run, rows, x) -> None:
        m = self.cfg.model
        what = f"{self.cfg.name}: {m.impl} {m.cell} on {self.cfg.data.dataset}"
        names = {"regress": ("loss",), "classify": ("loss", "acc"), "sequence": ("loss", "acc")}
        labels = {"loss": "loss", "acc": "accuracy"}
        for name in names[self.kind]:
            columns = {f"train_{name}": "train", f"dev_{name}": "dev"}
            if name == "acc" and self.kind == "sequence":
                columns = {"dev_acc": "dev (per symbol)", "dev_seq_acc": "dev (whole sequence)"}
            plot_curves(run.plot_path(labels[name]), rows, columns, labels[name], what, x=x)

    def state_dict(self) -> dict:
        return {"batch_rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = json.loads(state["batch_rng"])
