"""Sequence classification (nndl chapter 6, d2l section 16.2): a sequence in, one label out.

Selects `best.pt` by dev accuracy and is tested once, with that checkpoint, on the test
split. Metrics are `train_loss`/`train_acc` (means over the batches since the previous
row), `dev_loss`/`dev_acc`, and at the end `test_loss`/`test_acc` in summary.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.config import Config
from rnnlab.data.labelled import ClassifyDataset, Labelled, Sequences
from rnnlab.data.textcls import tokenize
from rnnlab.errors import RnnlabError
from rnnlab.models import SequenceClassifier
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.plots import plot_curves

from .base import TASKS, Artifacts, BatchResult, Task
from .batches import eval_order, to_batch, train_order

EVAL_BATCH_FACTOR = 4  # evaluation batches are this many times larger (no gradients kept)


@TASKS.register("classify")
class ClassifyTask(Task):
    serves = ClassifyDataset
    predict_option = "--text"
    key_metric = "dev_acc"
    higher_is_better = True
    reports_test = True

    def __init__(self, cfg: Config, device: torch.device, data: Labelled):
        self.cfg, self.device, self.data = cfg, device, data
        self.rng = np.random.Generator(np.random.PCG64(cfg.seed))  # batch order, resumable

    def artifacts(self) -> Artifacts:
        return Artifacts(self.data.vocab, self.data.classes)

    @classmethod
    def model_for(cls, cfg, artifacts: Artifacts) -> SequenceClassifier:
        return SequenceClassifier(len(artifacts.vocab), len(artifacts.classes), cfg.model)

    def save_artifacts(self, run) -> None:
        self.data.vocab.save(run.vocab_path)
        write_atomic(
            run.labels_path, json.dumps({"classes": self.data.classes}, ensure_ascii=False)
        )

    def epoch_batches(self, skip: int = 0):
        train = self.data.split("train")
        for index in train_order(train.lengths, self.cfg.data.batch_size, self.rng)[skip:]:
            yield to_batch(train, index, self.data.pad_id, self.device)

    def batches_per_epoch(self) -> int:
        return -(-len(self.data.split("train")) // self.cfg.data.batch_size)

    def loss(self, model, batch) -> BatchResult:
        (ids, lengths, labels), tokens = batch  # (B, T), (B,), (B,)
        logits = model(ids, lengths)  # (B, C)
        loss = F.cross_entropy(logits, labels)
        correct = (logits.argmax(-1) == labels).sum()
        return BatchResult(loss, len(labels), tokens, {"train_acc": correct})

    @torch.no_grad()
    def score(self, model, seqs: Sequences) -> tuple[float, float]:
        """(mean loss, accuracy) over a split, with one host sync."""
        was_training = model.training
        model.eval()
        loss, correct = torch.zeros((), device=self.device), torch.zeros((), device=self.device)
        size = self.cfg.data.batch_size * EVAL_BATCH_FACTOR
        for index in eval_order(seqs.lengths, size):
            (ids, lengths, labels), _ = to_batch(seqs, index, self.data.pad_id, self.device)
            logits = model(ids, lengths)  # (B, C)
            loss += F.cross_entropy(logits, labels, reduction="sum")
            correct += (logits.argmax(-1) == labels).sum()
        model.train(was_training)
        total_loss, total_correct = torch.stack([loss, correct]).tolist()
        return total_loss / len(seqs), total_correct / len(seqs)

    def evaluate(self, model) -> dict:
        loss, acc = self.score(model, self.data.split("dev"))
        return {"dev_loss": loss, "dev_acc": acc}

    def data_sizes(self) -> dict:
        return {split: len(seqs) for split, seqs in self.data.splits.items()}

    def test(self, model) -> dict:
        loss, acc = self.score(model, self.data.split("test"))
        return {"test_loss": loss, "test_acc": acc}

    def plot(self, run, rows, x) -> None:
        m = self.cfg.model
        what = f"{self.cfg.name}: {m.impl} {m.cell} on {self.cfg.data.dataset}"
        for name, ylabel in (("loss", "loss"), ("acc", "accuracy")):
            columns = {f"train_{name}": "train", f"dev_{name}": "dev"}
            plot_curves(run.plot_path(ylabel), rows, columns, ylabel, what, x=x)

    def state_dict(self) -> dict:
        return {"batch_rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = json.loads(state["batch_rng"])

    @classmethod
    def describe(cls, cfg) -> str:
        return f"a classifier ({cfg.data.dataset})"

    @classmethod
    def load_artifacts(cls, run) -> Artifacts:
        path = run.labels_path
        try:
            classes = json.loads(path.read_text(encoding="utf-8"))["classes"]
        except FileNotFoundError:
            raise RnnlabError(f"{path} not found: is {run.dir} a classifier run?") from None
        except (ValueError, KeyError, TypeError):
            raise RnnlabError(f"{path} is not an rnnlab labels file") from None
        return Artifacts(super().load_artifacts(run).vocab, [str(c) for c in classes])

    @classmethod
    def read_input(cls, cfg, artifacts: Artifacts, given: str) -> list[str]:
        """The text's tokens, tokenised as the training texts were, cut to data.max_len."""
        return cut(cfg, tokenize([given])[0])

    @classmethod
    @torch.no_grad()
    def predict(cls, cfg, artifacts: Artifacts, model, tokens, sampling) -> Iterator[str]:
        """The predicted label and its probability, separated by a tab (one piece)."""
        ids = torch.as_tensor(artifacts.vocab.encode(np.array(tokens))).view(1, -1)  # (1, T)
        lengths = torch.tensor([ids.shape[1]], device=ids.device)  # (1,)
        probs = torch.softmax(model(ids, lengths), -1)[0]  # (C,)
        best = int(probs.argmax())
        yield f"{artifacts.classes[best]}\t{float(probs[best]):.4f}"


def cut(cfg, tokens: list[str]) -> list[str]:
    """`tokens`, at least one, cut to data.max_len."""
    if not tokens:
        raise RnnlabError("the input is empty: give at least one token to classify")
    return tokens[: cfg.data.max_len] if cfg.data.max_len else tokens
