"""Selective copying (Gu & Dao 2023, Mamba, section 3.1 and Table 1): `tokens` (16) data
symbols drawn from an alphabet of `alphabet` (16) sit at random positions among noise
tokens in a span of T steps; then `tokens` marker steps, at which the model must output the
data symbols in order. Unlike the copy problem the gaps vary, so a fixed delay (a time-
invariant model's convolution) cannot solve it. Only the marker steps have targets; a
model that remembers nothing guesses uniformly: accuracy 1/alphabet, loss log(alphabet).

Ids: 0 noise, 1..alphabet the symbols, alphabet + 1 the marker. Files: inputs and targets
(N, T + tokens) int16, targets -1 (no target) before the markers."""

from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import RnnlabError

from .base import DATASETS
from .memory import IGNORE, MemoryDataset, tokens_per_row
from .vocab import Vocab


@DATASETS.register("selective_copy")
class SelectiveCopy(MemoryDataset):
    name = "selective_copy"
    kind = "sequence"
    options = {"tokens": 16, "alphabet": 16}
    key_metric = "acc"

    @classmethod
    def check_options(cls, length, opts):
        k, a = opts["tokens"], opts["alphabet"]
        if k < 1:
            raise RnnlabError(f"--tokens (data tokens to copy) must be >= 1, got {k}")
        if length < k:
            raise RnnlabError(
                f"selective copy: {k} tokens to copy do not fit in a span of {length} "
                f"positions (the length T must be >= --tokens)"
            )
        if not 2 <= a <= 30000:
            raise RnnlabError(f"--alphabet must be 2..30000 symbols, got {a}")

    @classmethod
    def generate(cls, length, n, rng, opts):
        k, a = opts["tokens"], opts["alphabet"]
        data = rng.integers(1, a + 1, size=(n, k), dtype=np.int16)  # (N, k) in 1..a
        where = tokens_per_row(length, n, rng, k)  # (N, k) sorted positions in [0, T)
        inputs = np.zeros((n, length + k), dtype=np.int16)  # (N, T + k) noise
        np.put_along_axis(inputs, where, data, axis=1)
        inputs[:, length:] = a + 1  # the markers: output the data now
        targets = np.full_like(inputs, IGNORE)  # (N, T + k)
        targets[:, length:] = data
        return inputs, targets

    @classmethod
    def vocab(cls, opts):
        return Vocab(["."] + [str(s) for s in range(1, opts["alphabet"] + 1)] + ["?"])

    @classmethod
    def baseline(cls, metric, length, opts):
        k, a = opts["tokens"], opts["alphabet"]
        return {"loss": math.log(a), "acc": 1 / a, "seq_acc": a ** -float(k)}.get(metric)
