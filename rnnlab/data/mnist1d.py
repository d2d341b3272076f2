"""MNIST-1D (Greydanus 2020, PyPI `mnist1d`): ten 1-d digit templates, each example
padded, translated, scaled, sheared and noised into 40 steps of one value; classified at
the end. The package builds it procedurally (`make_dataset`: no download) from its seed
(42 for the published data set). A model that remembers nothing guesses: accuracy 0.10.

The package draws 4,000 training and 1,000 test examples; here the last `n_valid` of its
training examples are the dev split (default 3,500 / 500 / 1,000). Files: inputs
(N, 40, 1) float32, targets (N,) int64."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError

from .base import DATASETS
from .memory import MemoryDataset, check_memory_keys, write_folder
from .vocab import Vocab

STEPS = 40  # the package's final_seq_length
SIZES = {"train": 3500, "dev": 500, "test": 1000}
PACKAGE_SEED = 42  # the seed of the published MNIST-1D


def check_sizes(sizes: dict[str, int]) -> None:
    total = sum(sizes.values())
    if min(sizes.values()) < 1 or total % 10:
        shown = ", ".join(f"{k} {v}" for k, v in sizes.items())
        raise RnnlabError(
            f"mnist1d: the split sizes ({shown}) must each be >= 1 and add up to a multiple "
            f"of 10 (the package draws as many examples of each digit)"
        )


def make(sizes: dict[str, int], seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (inputs (n, 40, 1), labels (n,))} from the package, its global NumPy random
    state put back afterwards."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise RnnlabError(
            "mnist1d is not installed: pip install 'rnnlab[memory]' (or pip install mnist1d)"
        ) from None
    check_sizes(sizes)
    args = get_dataset_args()
    total = sum(sizes.values())
    args.num_samples, args.seed = total, seed
    args.train_split = (sizes["train"] + sizes["dev"]) / total
    state = np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)
    x = np.asarray(data["x"], dtype=np.float32)[:, :, None]  # (train + dev, 40, 1)
    y = np.asarray(data["y"], dtype=np.int64)
    n = sizes["train"]
    test = (
        np.asarray(data["x_test"], dtype=np.float32)[:, :, None],
        np.asarray(data["y_test"], dtype=np.int64),
    )
    return {"train": (x[:n], y[:n]), "dev": (x[n:], y[n:]), "test": test}


@DATASETS.register("mnist1d")
class Mnist1d(MemoryDataset):
    name = "mnist1d"
    kind = "classify"
    sizes = SIZES
    key_metric = "acc"
    real_inputs = 1

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        if cfg.data.length not in (None, STEPS):
            raise RnnlabError(
                f"dataset 'mnist1d' is {STEPS} steps: leave data.length out, got {cfg.data.length}"
            )
        check_memory_keys(cls, cfg)

    @classmethod
    def folder_key(cls, cfg: Config) -> str:
        return str(STEPS)

    @classmethod
    def split_arrays(cls, length, opts, sizes, seed):
        return make(sizes, seed)

    @classmethod
    def write_default(cls, folder: Path, cfg: Config) -> None:
        write_folder(cls, folder, STEPS, {}, dict(SIZES), seed=PACKAGE_SEED)

    @classmethod
    def vocab(cls, opts):
        return Vocab(["signal"])

    @classmethod
    def outputs(cls, opts):
        return 10

    @classmethod
    def baseline(cls, metric, length, opts):
        return 0.1 if metric == "acc" else None
