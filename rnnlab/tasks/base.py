"""What the one training loop (`rnnlab.training.loop`) and `rnnlab predict` ask of a task.

A task owns its data on the training device, builds its model, turns a batch into a
loss, evaluates, and says which validation metric picks `best.pt`. A task with a test
split (`reports_test`) is tested once, with the best checkpoint.

Tasks register in `TASKS` and declare the dataset base class they learn from (`serves`:
`TextCorpus` for language modelling, `ClassifyDataset` for classification); `task_for`
picks, for a dataset class, the task serving its nearest base. `predict` rebuilds a
run's model with the same `model_for` as training, from what the run folder keeps
(`Artifacts`), and the task reads the command line's input (`predict_option`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import nn

from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.registry import Registry


class BatchResult(NamedTuple):
    """What one training batch gives the loop."""

    loss: torch.Tensor  # the mean loss over the batch's predictions (the loop may sum it)
    n: int  # predictions it averages
    tokens: int  # input tokens, for the speed
    sums: dict[str, torch.Tensor] = {}  # per-example quantities summed over the batch on the
    # device (e.g. {"train_acc": number correct}); the loop reports each as a mean per example
    penalty: torch.Tensor | None = None  # a regulariser the loop adds to what it minimises
    # but not to the loss it reports (a language model's AR and TAR)


@dataclass
class Artifacts:
    """What a model needs besides the config, kept in the run folder for `predict`."""

    vocab: Vocab
    classes: list[str] = field(default_factory=list)  # classifiers: class index -> name


@dataclass
class Sampling:
    """`rnnlab predict` settings for a language model's generated text."""

    num_tokens: int = 50
    temperature: float = 0.0  # 0: greedy
    top_k: int | None = None
    seed: int = 0
    stop_at_eos: bool = False  # word models: end before the first <eos>


class Task:
    serves: type  # the dataset base class this task learns from (e.g. TextCorpus)
    predict_option: str  # what `rnnlab predict` takes for this task's models: "--prefix"
    key_metric: str  # the validation metric that decides best.pt, e.g. "val_ppl"
    higher_is_better: bool  # True for accuracy, False for perplexity and loss
    reports_test: bool = False  # True: test the best checkpoint at the end (`test`)
    cfg: Any  # the run's Config

    def __init__(self, cfg, device: torch.device, data: Any) -> None:
        """The task over `data` (what its dataset's `load` returned) on `device`."""
        self.cfg, self.device = cfg, device

    def artifacts(self) -> Artifacts:
        """The vocabulary (and classes) of this task's data."""
        raise NotImplementedError

    @classmethod
    def model_for(cls, cfg, artifacts: Artifacts) -> nn.Module:
        """The model of `cfg` for this task: the one builder, for training and `predict`."""
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        """The model for this task's data, built as `predict` rebuilds it (`model_for`)."""
        return self.model_for(self.cfg, self.artifacts())

    @classmethod
    def describe(cls, cfg) -> str:
        """What a run of this task is, for messages: "a language model"."""
        raise NotImplementedError

    @classmethod
    def config_warnings(cls, cfg) -> list[str]:
        """Settings that train but deserve a word, one line each (`rnnlab train`)."""
        return []

    @classmethod
    def load_artifacts(cls, run) -> Artifacts:
        """What `save_artifacts` wrote, read back from the run folder."""
        return Artifacts(Vocab.load(run.vocab_path))

    @classmethod
    def read_input(cls, cfg, artifacts: Artifacts, given: str) -> list[str]:
        """The tokens of `predict_option`'s value; RnnlabError saying what is wrong."""
        raise NotImplementedError

    @classmethod
    def predict(
        cls, cfg, artifacts: Artifacts, model: nn.Module, tokens, sampling
    ) -> Iterator[str]:
        """What `rnnlab predict` prints for the input `tokens` (model in eval mode), in
        pieces printed as they come (a long generated text in constant memory)."""
        raise NotImplementedError

    def save_artifacts(self, run) -> None:
        """Write what `predict` needs besides the config and weights (e.g. vocab.json)."""

    def epoch_batches(self, skip: int = 0) -> Iterable:
        """This epoch's training batches, drawn from the task's own generator, less the
        first `skip` (a run resumed in the middle of an epoch draws it again and skips)."""
        raise NotImplementedError

    def batches_per_epoch(self) -> int | None:
        """About how many batches an epoch has (None: unknown); sizes `model.compile: auto`."""
        return None

    def loss(self, model: nn.Module, batch) -> BatchResult:
        raise NotImplementedError

    def train_metrics(self, mean_loss: float) -> dict:
        return {"train_loss": mean_loss}

    def evaluate(self, model: nn.Module) -> dict:
        """Validation metrics, including `key_metric`."""
        raise NotImplementedError

    def data_sizes(self) -> dict:
        """Examples per split, for summary.json (classifiers)."""
        return {}

    def test(self, model: nn.Module) -> dict:
        """Test metrics (tasks with `reports_test`), given the best checkpoint's model."""
        return {}

    def samples(self, model: nn.Module) -> list[str]:
        """Text to show while training (language models); nothing by default."""
        return []

    def plot(self, run, rows: list[dict], x: str) -> None:
        """Write the run's curves under run.dir/plots/, against `x` ("epoch" or "step")."""

    def is_better(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best

    def state_dict(self) -> dict:
        """What a resumed run needs to draw the same batches (generator states)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def carried(self):
        """What one batch hands the next within an epoch (a language model's hidden state
        with sequential sampling), for a checkpoint taken mid-epoch; None if nothing."""
        return None

    def set_carried(self, carried) -> None:
        pass


TASKS: Registry[type[Task]] = Registry("task")


def task_for(dataset: type) -> type[Task]:
    """The registered task serving `dataset`'s nearest base class (its MRO, in order)."""
    tasks = [TASKS.get(name) for name in TASKS.names()]
    for base in dataset.__mro__:
        for task in tasks:
            if task.serves is base:
                return task
    raise RnnlabError(f"no task learns from dataset class {dataset.__name__}")


def unknown_split(split: str, names: Iterable[str]) -> RnnlabError:
    """The one-line error for a --split the task's data does not have."""
    return RnnlabError(f"--split must be one of {', '.join(names)}, got {split!r}")
