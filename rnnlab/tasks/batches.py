"""Batches of labelled sequences, bucketed by length so little time goes into padding.

Training: each epoch shuffles the examples, sorts them by length within pools of
`POOL` batches, cuts the pools into batches and shuffles the batches, so a batch holds
sequences of similar length yet the order still changes every epoch. Evaluation sorts the
whole split by length. A batch is `(ids (B, T), lengths (B,), labels (B,))` on the device,
right-padded; the model reads each sequence only up to its length.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnlab.data.labelled import Sequences

POOL = 50  # batches per sorting pool


def train_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """This epoch's batches of example indices, bucketed by length within pools."""
    order = rng.permutation(len(lengths))  # (n,)
    batches = []
    for start in range(0, len(order), POOL * batch_size):
        pool = order[start : start + POOL * batch_size]
        pool = pool[np.argsort(-lengths[pool], kind="stable")]  # longest first
        batches += [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def eval_order(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    order = np.argsort(-lengths, kind="stable")  # (n,) longest first
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def to_batch(seqs: Sequences, index: np.ndarray, pad: int, device: torch.device):
    """(ids (B, T) int64, lengths (B,) int64, labels (B,) int64) on `device`, and the
    number of real tokens (a host int, so counting costs no device sync)."""
    ids, lengths = seqs.padded(index, pad)  # (B, T), (B,)
    tensors = (
        torch.as_tensor(ids, dtype=torch.int64).to(device),  # (B, T)
        torch.as_tensor(lengths, dtype=torch.int64).to(device),  # (B,)
        torch.as_tensor(seqs.labels[index], dtype=torch.int64).to(device),  # (B,)
    )
    return tensors, int(lengths.sum())
