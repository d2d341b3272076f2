"""Multi-query associative recall, MQAR (Arora et al. 2023, Zoology): a sequence of T
steps opens with `pairs` key-value pairs (distinct keys drawn from `keys`, values from
`values`), then holds `queries` of those keys at random later positions among noise; at
each query the model must output the value paired with that key. Only the query steps
have targets; a model that remembers nothing guesses a value uniformly: accuracy
1/values, loss log(values).

Ids: 0 noise, 1..keys the keys, keys + 1..keys + values the values. Files: inputs and
targets (N, T) int16, targets -1 (no target) except at the queries."""

from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import RnnlabError

from .base import DATASETS
from .memory import IGNORE, MemoryDataset, tokens_per_row
from .vocab import Vocab


@DATASETS.register("recall")
class Recall(MemoryDataset):
    name = "recall"
    kind = "sequence"
    min_length = 3
    options = {"pairs": 8, "queries": 8, "keys": 64, "values": 64}
    key_metric = "acc"

    @classmethod
    def check_options(cls, length, opts):
        p, q, k, v = opts["pairs"], opts["queries"], opts["keys"], opts["values"]
        if p < 1 or q < 1:
            raise RnnlabError(f"--pairs and --queries must be >= 1, got {p} and {q}")
        if q > p:
            raise RnnlabError(
                f"--queries {q} is more than --pairs {p}: each query asks a distinct key"
            )
        if k < p:
            raise RnnlabError(
                f"--keys {k} is too small a vocabulary for {p} distinct keys per sequence"
            )
        if v < 2 or k + v > 30000:
            raise RnnlabError(f"--values must be >= 2 (and keys + values <= 30000), got {v}")
        if length < 2 * p + q:
            raise RnnlabError(
                f"recall: {p} pairs and {q} queries need {2 * p + q} positions, the length "
                f"T is {length}"
            )

    @classmethod
    def generate(cls, length, n, rng, opts):
        p, q, k, v = opts["pairs"], opts["queries"], opts["keys"], opts["values"]
        keys = np.argsort(rng.random((n, k)), axis=1)[:, :p] + 1  # (N, p) distinct in 1..k
        values = rng.integers(k + 1, k + v + 1, size=(n, p))  # (N, p)
        inputs = np.zeros((n, length), dtype=np.int16)  # (N, T) noise
        inputs[:, 0 : 2 * p : 2], inputs[:, 1 : 2 * p : 2] = keys, values
        asked = np.argsort(rng.random((n, p)), axis=1)[:, :q]  # (N, q) which pairs, in order
        where = 2 * p + tokens_per_row(length - 2 * p, n, rng, q)  # (N, q) query positions
        targets = np.full_like(inputs, IGNORE)  # (N, T)
        np.put_along_axis(inputs, where, np.take_along_axis(keys, asked, 1), axis=1)
        np.put_along_axis(targets, where, np.take_along_axis(values, asked, 1), axis=1)
        return inputs, targets

    @classmethod
    def vocab(cls, opts):
        keys = [f"k{i}" for i in range(1, opts["keys"] + 1)]
        return Vocab(["."] + keys + [f"v{i}" for i in range(1, opts["values"] + 1)])

    @classmethod
    def baseline(cls, metric, length, opts):
        q, v = opts["queries"], opts["values"]
        return {"loss": math.log(v), "acc": 1 / v, "seq_acc": v ** -float(q)}.get(metric)
