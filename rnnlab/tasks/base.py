"""What the one training loop (`rnnlab.training.loop`) asks of a task.

A task owns its data on the training device, builds its model, turns a batch into a
loss, evaluates, and says which validation metric picks `best.pt`. Language modelling
and sequence classification are the two tasks; a dataset's `task` attribute picks one.
A task with a test split (`reports_test`) is tested once, with the best checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import nn


class BatchResult(NamedTuple):
    """What one training batch gives the loop."""

    loss: torch.Tensor  # the mean loss over the batch's predictions (the loop may sum it)
    n: int  # predictions it averages
    tokens: int  # input tokens, for the speed
    sums: dict[str, torch.Tensor] = {}  # per-example quantities summed over the batch on the
    # device (e.g. {"train_acc": number correct}); the loop reports each as a mean per example


class Task:
    key_metric: str  # the validation metric that decides best.pt, e.g. "val_ppl"
    higher_is_better: bool  # True for accuracy, False for perplexity and loss
    reports_test: bool = False  # True: test the best checkpoint at the end (`test`)

    def build_model(self) -> nn.Module:
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
