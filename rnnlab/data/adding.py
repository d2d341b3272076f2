"""The adding problem (Hochreiter & Schmidhuber 1997; as in Le et al. 2015 and Arjovsky et
al. 2016): T steps of two channels, a value drawn uniformly from [0, 1) and a marker that
is 1 at exactly two steps, one in the first half (t < T/2) and one in the second; the target
is the sum of the two marked values. Predicting 1 whatever the input (a model that
remembers nothing) scores the variance of a sum of two uniforms, MSE = 2/12 = 1/6 ≈ 0.167.

Files: inputs (N, T, 2) float32 (value, marker), targets (N,) float32."""

from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError

from .base import DATASETS
from .memory import MemoryDataset
from .vocab import Vocab

BASELINE_MSE = 1 / 6  # Var(U1 + U2) for two independent uniforms on [0, 1)


@DATASETS.register("adding")
class Adding(MemoryDataset):
    name = "adding"
    kind = "regress"
    min_length = 2
    key_metric = "mse"
    higher_is_better = False
    real_inputs = 2

    @classmethod
    def check_options(cls, length: int, opts: dict[str, int]) -> None:
        if length < 2:
            raise RnnlabError(
                f"an adding length must be >= 2 (a marked step in each half), got {length}"
            )

    @classmethod
    def generate(cls, length, n, rng, opts):
        values = rng.random((n, length), dtype=np.float32)  # (N, T) in [0, 1)
        half = length // 2
        first = rng.integers(0, half, size=n)  # (N,) in the first half
        second = rng.integers(half, length, size=n)  # (N,) in the second half
        rows = np.arange(n)
        marker = np.zeros((n, length), dtype=np.float32)  # (N, T)
        marker[rows, first] = marker[rows, second] = 1.0
        target = values[rows, first] + values[rows, second]  # (N,)
        return np.stack([values, marker], axis=-1), target.astype(np.float32)  # (N, T, 2), (N,)

    @classmethod
    def vocab(cls, opts):
        return Vocab(["value", "marker"])

    @classmethod
    def outputs(cls, opts):
        return 1

    @classmethod
    def baseline(cls, metric, length, opts):
        return BASELINE_MSE if metric in ("mse", "loss") else None
