"""Sequential and permuted digits: scikit-learn's bundled 8x8 handwritten digits
(`sklearn.datasets.load_digits`, 1,797 images of 0-9, no download) read one pixel a step,
64 steps of one intensity in [0, 1] (the 0-16 grey levels / 16), classified at the end;
with `permute` the pixels come in one fixed random order drawn from that seed (the small
sibling of pixel-by-pixel and permuted MNIST, Le et al. 2015). A model that remembers
nothing of the image guesses the most frequent class: accuracy about 0.10.

The split is a seeded shuffle of the 1,797 images (default 1,257 / 270 / 270). Files:
inputs (N, 64, 1) float32, targets (N,) int64 class ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError

from .base import DATASETS
from .memory import MemoryDataset, write_folder
from .vocab import Vocab

PIXELS = 64
IMAGES = 1797
SIZES = {"train": 1257, "dev": 270, "test": 270}


def load_images() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 64) float32 in [0, 1], labels (1797,) int64); RnnlabError without
    scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise RnnlabError(
            "the digits come with scikit-learn, which is not installed: pip install 'rnnlab[memory]'"
        ) from None
    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def check_sizes(sizes: dict[str, int]) -> None:
    if min(sizes.values()) < 1 or sum(sizes.values()) > IMAGES:
        shown = ", ".join(f"{k} {v}" for k, v in sizes.items())
        raise RnnlabError(
            f"digits: the split sizes ({shown}) must each be >= 1 and add up to at most {IMAGES}"
        )


@DATASETS.register("digits")
class Digits(MemoryDataset):
    name = "digits"
    kind = "classify"
    options = {"permute": None}
    sizes = SIZES
    key_metric = "acc"
    real_inputs = 1

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        if cfg.data.length not in (None, PIXELS):
            raise RnnlabError(
                f"dataset 'digits' is {PIXELS} steps (8x8 pixels): leave data.length out, got "
                f"{cfg.data.length}"
            )
        from .memory import check_memory_keys

        check_memory_keys(cls, cfg)

    @classmethod
    def folder_key(cls, cfg: Config) -> str:
        return "pixels" if cfg.data.permute is None else f"permuted{cfg.data.permute}"

    @classmethod
    def split_arrays(cls, length, opts, sizes, seed):
        check_sizes(sizes)
        images, labels = load_images()  # (1797, 64), (1797,)
        if opts["permute"] is not None:
            images = images[:, permutation(opts["permute"])]  # one pixel order for every image
        order = np.random.default_rng([seed, PIXELS]).permutation(IMAGES)  # (1797,)
        arrays, start = {}, 0
        for split, n in sizes.items():
            index = order[start : start + n]
            arrays[split] = images[index][:, :, None], labels[index]  # (n, 64, 1), (n,)
            start += n
        return arrays

    @classmethod
    def write_default(cls, folder: Path, cfg: Config) -> None:
        opts = {"permute": cfg.data.permute}
        write_folder(cls, folder, PIXELS, opts, dict(SIZES), seed=0)

    @classmethod
    def vocab(cls, opts):
        return Vocab(["pixel"])

    @classmethod
    def outputs(cls, opts):
        return 10

    @classmethod
    def baseline(cls, metric, length, opts):
        return 0.1 if metric == "acc" else None


def permutation(seed: int) -> np.ndarray:
    """The fixed pixel order of `--permute SEED` / data.permute (64,)."""
    return np.random.default_rng([seed, PIXELS, 1]).permutation(PIXELS)
