"""The copy memory problem (Arjovsky, Shah & Bengio 2016, after Hochreiter & Schmidhuber
1997): `symbols` (10) symbols drawn from an alphabet of `alphabet` (8), then T - 1 blanks,
a delimiter, and `symbols` more blanks; the target is blank for the first T + symbols
steps, then the symbols in order. Every one of the T + 2 symbols steps has a target, so a
model that remembers nothing (blanks, then a uniform guess over the alphabet) scores
cross-entropy `symbols * log(alphabet) / (T + 2 symbols)`: 10 log 8 / (T + 20).

Ids: 0 the blank, 1..alphabet the symbols, alphabet + 1 the delimiter. Files: inputs and
targets (N, T + 2 symbols) int16."""

from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import RnnlabError

from .base import DATASETS
from .memory import MemoryDataset
from .vocab import Vocab


@DATASETS.register("copy")
class Copy(MemoryDataset):
    name = "copy"
    kind = "sequence"
    min_length = 1
    options = {"symbols": 10, "alphabet": 8}
    key_metric = "acc"

    @classmethod
    def check_options(cls, length, opts):
        if length < 1:
            raise RnnlabError(f"a copy length (the delay T) must be >= 1, got {length}")
        if opts["symbols"] < 1:
            raise RnnlabError(f"--symbols (symbols to copy) must be >= 1, got {opts['symbols']}")
        if not 2 <= opts["alphabet"] <= 30000:
            raise RnnlabError(
                f"--alphabet must be 2..30000 symbols (one symbol leaves nothing to remember), "
                f"got {opts['alphabet']}"
            )

    @classmethod
    def generate(cls, length, n, rng, opts):
        k, a = opts["symbols"], opts["alphabet"]
        data = rng.integers(1, a + 1, size=(n, k), dtype=np.int16)  # (N, k) in 1..a
        inputs = np.zeros((n, length + 2 * k), dtype=np.int16)  # (N, T + 2k) blanks
        inputs[:, :k] = data
        inputs[:, k + length - 1] = a + 1  # the delimiter: start copying after it
        targets = np.zeros_like(inputs)  # (N, T + 2k): blanks, then the data
        targets[:, -k:] = data
        return inputs, targets

    @classmethod
    def vocab(cls, opts):
        return Vocab(["_"] + [str(s) for s in range(1, opts["alphabet"] + 1)] + [":"])

    @classmethod
    def baseline(cls, metric, length, opts):
        k, a = opts["symbols"], opts["alphabet"]
        return {
            "loss": k * math.log(a) / (length + 2 * k),
            "acc": 1 / a,
            "seq_acc": a ** -float(k),
        }.get(metric)
