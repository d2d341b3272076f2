"""Labelled sequences for classifiers: ragged token-id arrays without a Python object per
sequence, the splits a classifier trains, selects and reports on, and their dataset base.

A split is stored flat: `ids` holds every sequence's token ids one after another and
`offsets[i]:offsets[i + 1]` is sequence i, so a split of 25,000 reviews is three NumPy
arrays that slice, save (`.npz`) and batch without loops over sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.errors import RnnlabError

from .base import Dataset
from .vocab import Vocab

SPLITS = ("train", "dev", "test")
PAD = "<pad>"


@dataclass
class Sequences:
    """Labelled sequences of token ids, stored flat."""

    ids: np.ndarray  # (total tokens,) int64 token ids, sequence after sequence
    offsets: np.ndarray  # (n + 1,) int64: sequence i is ids[offsets[i]:offsets[i + 1]]
    labels: np.ndarray  # (n,) int64 class indices

    @classmethod
    def from_lengths(cls, ids: np.ndarray, lengths: np.ndarray, labels: np.ndarray) -> Sequences:
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.asarray(ids, dtype=np.int64), offsets, np.asarray(labels, dtype=np.int64))

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, labels: np.ndarray) -> Sequences:
        """Equal-length sequences, one per row of `matrix` (n, T)."""
        n, length = matrix.shape
        return cls.from_lengths(matrix.reshape(-1), np.full(n, length), labels)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)  # (n,)

    def subset(self, index: np.ndarray) -> Sequences:
        """The sequences at `index`, in that order (one gather, no loop)."""
        lengths = self.lengths[index]
        starts = np.repeat(self.offsets[:-1][index], lengths)  # (kept tokens,)
        within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return Sequences.from_lengths(self.ids[starts + within], lengths, self.labels[index])

    def truncate(self, max_len: int | None) -> Sequences:
        """Each sequence cut to its first `max_len` tokens."""
        if max_len is None or len(self) == 0 or self.lengths.max() <= max_len:
            return self
        lengths = np.minimum(self.lengths, max_len)
        position = np.arange(len(self.ids)) - np.repeat(self.offsets[:-1], self.lengths)
        return Sequences.from_lengths(self.ids[position < max_len], lengths, self.labels)

    def padded(self, index: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids (B, T) right-padded with `pad`, lengths (B,)) of the sequences at `index`."""
        lengths = self.lengths[index]  # (B,)
        steps = np.arange(max(int(lengths.max()), 1))  # (T,)
        inside = steps[None, :] < lengths[:, None]  # (B, T)
        where = np.where(inside, self.offsets[index][:, None] + steps[None, :], 0)  # (B, T)
        return np.where(inside, self.ids[where], pad), lengths


@dataclass
class Labelled:
    """A classification data set: vocabulary, class names, and the three splits."""

    vocab: Vocab
    classes: list[str]  # class index -> name ("neg", "pos"; "0".."18")
    splits: dict[str, Sequences]  # "train", "dev", "test"

    def split(self, name: str) -> Sequences:
        return self.splits[name]

    @property
    def pad_id(self) -> int:
        return self.vocab.token_to_idx.get(PAD, 0)


class ClassifyDataset(Dataset):
    """Base of the classification datasets: `load(cfg)` returns a `Labelled`."""

    # a classifier reads one final state, with no output layer over tokens: the language
    # model's regularisers and softmax would be ignored
    unused_model_keys = ("tie_weights", "embed_dropout", "output_dropout", "locked_dropout",
                         "token_dropout", "weight_drop", "ar", "tar", "softmax")  # fmt: skip

    def load(self, cfg) -> Labelled:
        raise NotImplementedError


def hold_out(train: Sequences, fraction: float, seed) -> tuple[Sequences, Sequences]:
    """(train, dev): a seeded random `fraction` of the training split held out as dev."""
    n = len(train)
    n_dev = int(round(n * fraction))
    if n_dev < 1 or n_dev >= n:
        raise RnnlabError(
            f"data.valid_fraction {fraction} of {n} training examples leaves no dev or no "
            f"training examples: use more data or another data.valid_fraction"
        )
    order = np.random.default_rng(seed).permutation(n)
    return train.subset(np.sort(order[n_dev:])), train.subset(np.sort(order[:n_dev]))


def check_splits(name: str, splits: dict[str, Sequences], num_classes: int) -> None:
    """Every split non-empty, every label a known class."""
    for split in SPLITS:
        seqs = splits[split]
        if len(seqs) == 0:
            raise RnnlabError(f"dataset '{name}': the {split} split has no examples")
        if seqs.lengths.min() == 0:
            first = int(np.argmin(seqs.lengths))
            raise RnnlabError(f"dataset '{name}': {split} example {first + 1} has no tokens")
        if seqs.labels.min() < 0 or seqs.labels.max() >= num_classes:
            raise RnnlabError(f"dataset '{name}': a {split} label is outside the classes")
