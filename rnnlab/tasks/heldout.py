"""Held-out inputs for looking inside a model (`rnnlab inspect`, `train.log_grad_flow`):
a fixed batch of whole sequences to measure the gradient flow on, the same at every call.

    language model  `n` windows of `data.num_steps` tokens at evenly spaced places of the
                    text, each with its next tokens as targets (B, T)
    classifier      `n` examples drawn (seed 0) from the longer half of the split, cut to
                    the shortest of them (at most MAX_STEPS) so no step is padding, with
                    their labels (B,)
"""

from __future__ import annotations

import numpy as np
import torch

from rnnlab.data.labelled import Sequences
from rnnlab.errors import RnnlabError

from .base import Task, unknown_split
from .classify import ClassifyTask
from .language_model import LanguageModelTask

BATCH = 32  # sequences in the gradient-flow batch
MAX_STEPS = 500  # classifiers: longer sequences are cut (the loop runs step by step)


def lm_windows(ids: torch.Tensor, num_steps: int, n: int = BATCH):
    """(tokens (B, T), targets (B, T)) from a 1-d id tensor: B <= n windows, evenly spaced;
    a text shorter than num_steps + 1 gives one window of all it has."""
    T = min(num_steps, len(ids) - 1)
    if T < 1:
        raise RnnlabError("the text is too short to inspect: give at least two tokens")
    count = max(1, min(n, len(ids) - T))
    starts = torch.linspace(0, len(ids) - T - 1, count).round().long().tolist()
    tokens = torch.stack([ids[s : s + T] for s in starts]).long()  # (B, T)
    targets = torch.stack([ids[s + 1 : s + T + 1] for s in starts]).long()  # (B, T)
    return tokens, targets


def classifier_batch(seqs: Sequences, device, n: int = BATCH):
    """(tokens (B, T), labels (B,)) of whole sequences from a classifier's split."""
    if len(seqs) == 0:
        raise RnnlabError("the split has no examples to inspect")
    lengths = seqs.lengths
    longer = np.flatnonzero(lengths >= np.median(lengths))  # (m,)
    index = np.random.default_rng(0).permutation(longer)[:n]  # (B,)
    ids, kept = seqs.padded(index, 0)  # (B, T_max), (B,)
    T = int(min(kept.min(), MAX_STEPS))
    tokens = torch.as_tensor(ids[:, :T], dtype=torch.int64, device=device)  # (B, T)
    labels = torch.as_tensor(seqs.labels[index], dtype=torch.int64, device=device)  # (B,)
    return tokens, labels


def split_names(task: Task) -> tuple[str, ...]:
    """The splits of a task's data, held-out first."""
    return task.split_names() if isinstance(task, LanguageModelTask) else ("dev", "test", "train")


def split_data(task: Task, split: str):
    """A language model's split as a 1-d id tensor on the task's device; a classifier's
    as `Sequences` ("valid" means its dev split)."""
    if isinstance(task, LanguageModelTask):
        return task.split_ids(split)
    if not isinstance(task, ClassifyTask):  # the memory tasks (docs/memory.md)
        raise RnnlabError(
            f"rnnlab inspect reads language models and classifiers, not {task.describe(task.cfg)}"
        )
    if isinstance(task, ClassifyTask):
        split = "dev" if split == "valid" else split
        if split in task.data.splits:
            return task.data.split(split)
    raise unknown_split(split, split_names(task))


def grad_flow_batch(task: Task, split: str = "valid", n: int = BATCH):
    """The fixed gradient-flow batch of a task's split: (tokens, targets)."""
    data = split_data(task, split)
    if isinstance(task, LanguageModelTask):
        return lm_windows(data, task.cfg.data.num_steps, n)
    return classifier_batch(data, task.device, n)
