"""The memory benchmarks of the recurrent-network literature (docs/memory.md): synthetic
tasks generated from a seed (adding, copy, selective copy, associative recall) and the
pixel-by-pixel handwritten digits. One module per task registers a `MemoryDataset`
subclass in `DATASETS`; this module holds what they share: the files, the folder made on
first use and the memoryless baselines' lookup.

A generated folder `<out>/<key>/` (key: the length T, or the digits' pixel order) holds
`meta.json` (dataset, length, options, seed, split sizes) and, per split, `<split>.x.npy`
(inputs) and `<split>.y.npy` (targets) written with `np.save`: the same seed gives the
same bytes. Each split has its own random stream `(seed, task, length, split)`, so a
split does not depend on the sizes of the others. NumPy only; torch comes in at training.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError
from rnnlab.runs.fileio import write_atomic

from .base import DATASETS, Dataset
from .labelled import ClassifyDataset
from .safe_read import check_regular, max_data_bytes
from .store import data_dir, resolve_data_path
from .vocab import Vocab

SPLITS = ("train", "dev", "test")
SPLIT_SEEDS = {"train": 0, "dev": 1, "test": 2}
IGNORE = -1  # a target position without a target (its loss and accuracy are not counted)


@dataclass
class MemoryData:
    """A memory task's data: what its inputs' ids mean, and (inputs, targets) per split."""

    vocab: Vocab  # input token names (token tasks) or input channel names (real inputs)
    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (inputs, targets)
    meta: dict  # meta.json: dataset, length, options, seed, sizes

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.splits[name]


class MemoryDataset(Dataset):
    """A memory task. Subclasses set the class attributes and implement `generate`.

    kind: "regress" (one number per sequence, MSE), "sequence" (a symbol per position that
    has a target, cross-entropy there only) or "classify" (one class per sequence)."""

    name: ClassVar[str]  # the registered name and the gen-data command
    kind: ClassVar[str]
    min_length: ClassVar[int] = 1
    options: ClassVar[dict[str, Any]] = {}  # generation options and their defaults
    sizes: ClassVar[dict[str, int]] = {"train": 10000, "dev": 1000, "test": 1000}
    key_metric: ClassVar[str]  # without the split: "mse", "acc", "loss"
    higher_is_better: ClassVar[bool] = True
    real_inputs: ClassVar[int] = 0  # features per step for real-valued inputs; 0: token ids
    unused_model_keys = ClassifyDataset.unused_model_keys  # no output layer over tokens

    @classmethod
    def what_it_trains(cls) -> str:
        return f"is {describe(cls)}"

    # --- what subclasses define ---
    @classmethod
    def check_options(cls, length: int, opts: dict[str, int]) -> None:
        """RnnlabError for a length or option the task cannot be generated with."""
        if length < cls.min_length:
            raise RnnlabError(f"a {cls.name} length must be >= {cls.min_length}, got {length}")

    @classmethod
    def generate(
        cls, length: int, n: int, rng: np.random.Generator, opts: dict[str, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets) of `n` examples."""
        raise NotImplementedError

    @classmethod
    def vocab(cls, opts: dict[str, int]) -> Vocab:
        """The names of the input ids (or channels)."""
        raise NotImplementedError

    @classmethod
    def outputs(cls, opts: dict[str, int]) -> int:
        """Outputs of the model's head: 1 (regression), classes, or the vocabulary."""
        return len(cls.vocab(opts))

    @classmethod
    def baseline(cls, metric: str, length: int, opts: dict[str, int]) -> float | None:
        """The memoryless baseline of `metric` ("mse", "acc", "loss", "seq_acc"), or None."""
        return None

    @classmethod
    def split_arrays(
        cls, length: int, opts: dict, sizes: dict, seed: int
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{split: (inputs, targets)}, each split from its own stream (seed, task, T, split)."""
        arrays = {}
        for split in SPLITS:
            rng = np.random.default_rng([seed, sum(cls.name.encode()), length, SPLIT_SEEDS[split]])
            arrays[split] = cls.generate(length, sizes[split], rng, opts)
        return arrays

    @classmethod
    def folder_key(cls, cfg: Config) -> str:
        return str(cfg.data.length)

    @classmethod
    def write_default(cls, folder: Path, cfg: Config) -> None:
        """The folder a config without data.path reads: the defaults, seed 0."""
        length = cfg.data.length
        assert length is not None  # check_config refused a config without it
        write_folder(cls, folder, length, dict(cls.options), dict(cls.sizes), seed=0)

    # --- config checks, loading ---
    @classmethod
    def check_config(cls, cfg: Config) -> None:
        if cfg.data.length is None:
            raise RnnlabError(
                f"dataset '{cls.name}' needs data.length: the sequence length T (e.g. 20)"
            )
        cls.check_options(cfg.data.length, dict(cls.options))
        check_memory_keys(cls, cfg)

    def load(self, cfg: Config) -> MemoryData:
        key = self.folder_key(cfg)
        if cfg.data.path:
            folder = resolve_data_path(cfg.data.path) / key
            if not (folder / "meta.json").is_file():
                raise RnnlabError(
                    f"{folder}/meta.json not found: data.path must be a gen-data {self.name} "
                    f"folder holding {key}/"
                )
        else:
            folder = generated_folder(type(self), cfg, key)
        return read_folder(type(self), folder)


def check_memory_keys(cls: type[MemoryDataset], cfg: Config) -> None:
    """Keys the memory tasks do not use, and a sweep metric the task does not report."""
    if cfg.data.max_len is not None:
        raise RnnlabError(
            f"'data.max_len' cuts a text classifier's texts; dataset '{cls.name}' has fixed-"
            "length sequences (data.length)"
        )
    if cfg.data.permute is not None and cls.name != "digits":
        raise RnnlabError(f"'data.permute' orders the digits' pixels; not for '{cls.name}'")
    metric = cfg.sweep.metric
    if metric:
        reported = {f"{p}_{m}" for p in ("test", "final_dev") for m in metrics(cls)}
        reported |= {f"best_dev_{cls.key_metric}", "final_train_loss"}
        if metric not in reported:
            raise RnnlabError(
                f"'sweep.metric: {metric}' is not reported by dataset '{cls.name}' "
                f"({describe(cls)}): use one of {', '.join(sorted(reported))}"
            )


def metrics(cls: type[MemoryDataset]) -> tuple[str, ...]:
    """The metrics (without the split) a task reports."""
    return {
        "regress": ("loss", "mse"),
        "sequence": ("loss", "acc", "seq_acc"),
        "classify": ("loss", "acc"),
    }[cls.kind]


def describe(cls: type[MemoryDataset]) -> str:
    return {
        "regress": "a regression, scored by mean squared error",
        "sequence": "a sequence-to-sequence task, scored per symbol and per sequence",
        "classify": "a classification of whole sequences",
    }[cls.kind]


# --- files ---
def write_folder(
    cls: type[MemoryDataset], folder: Path, length: int, opts: dict, sizes: dict, seed: int
) -> None:
    """`folder/meta.json` and each split's `.x.npy` / `.y.npy`, each written atomically."""
    for split, (inputs, targets) in cls.split_arrays(length, opts, sizes, seed).items():
        write_array(folder / f"{split}.x.npy", inputs)
        write_array(folder / f"{split}.y.npy", targets)
    meta = {"dataset": cls.name, "length": length, "options": opts, "seed": seed, "sizes": sizes}
    write_atomic(folder / "meta.json", json.dumps(meta, sort_keys=True, indent=1) + "\n")


def write_array(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    write_atomic(path, buffer.getvalue())


def read_folder(cls: type[MemoryDataset], folder: Path) -> MemoryData:
    meta = read_meta(cls, folder)
    splits = {}
    for split in SPLITS:
        inputs, targets = (read_array(folder / f"{split}.{xy}.npy") for xy in "xy")
        if len(inputs) != len(targets) or len(inputs) == 0:
            raise RnnlabError(
                f"{folder}: the {split} inputs and targets differ in number or are empty"
            )
        splits[split] = (inputs, targets)
    shapes = {split: x.shape[1:] for split, (x, _) in splits.items()}
    if len(set(shapes.values())) != 1:
        raise RnnlabError(f"{folder}: the splits' sequences differ in shape ({shapes})")
    return MemoryData(cls.vocab(meta["options"]), splits, meta)


def read_meta(cls: type[MemoryDataset], folder: Path) -> dict:
    path = folder / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        ok = meta["dataset"] == cls.name and isinstance(meta["options"], dict)
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise RnnlabError(f"{path} is not a gen-data {cls.name} meta.json")
    return {**meta, "options": {**cls.options, **meta["options"]}}


def read_array(path: Path) -> np.ndarray:
    """An .npy array (no pickles), bounded like every data file."""
    try:
        size = check_regular(path).st_size
    except FileNotFoundError:
        raise RnnlabError(f"{path} not found: run gen-data again into that folder") from None
    if size > max_data_bytes():
        raise RnnlabError(f"{path} is {size:,} bytes, over the bound for data")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise RnnlabError(f"{path} is not a NumPy array file ({err})") from None


def generated_folder(cls: type[MemoryDataset], cfg: Config, key: str) -> Path:
    """data_dir/<name>/<key>/ made with the defaults (seed 0) on first use, in a temporary
    folder renamed into place, so a reader never sees half a folder."""
    parent = data_dir() / cls.name
    folder = parent / key
    if (folder / "meta.json").is_file():
        return folder
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{key}."))
    except OSError as err:
        raise RnnlabError(
            f"cannot write {cls.name} data into {parent} ({err.strerror}): set RNNLAB_DATA_DIR "
            f"to a writable folder, or run `rnnlab gen-data {cls.name}` and set data.path"
        ) from None
    try:
        cls.write_default(tmp / key, cfg)
        os.replace(tmp / key, folder)
    except OSError:
        if not (folder / "meta.json").is_file():  # not another process winning the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def baseline_for(cfg: Config, metric: str, length: Any) -> float | None:
    """The memoryless baseline of a sweep's `metric` ("test_mse", "best_dev_acc"...) at
    `length` for `cfg`'s dataset (its default options); None when it has none."""
    if cfg.data.dataset not in DATASETS:
        return None
    cls = DATASETS.get(cfg.data.dataset)
    if not issubclass(cls, MemoryDataset) or not isinstance(length, (int, type(None))):
        return None
    name = metric
    for prefix in ("best_dev_", "final_train_", "test_", "best_", "dev_"):
        if metric.startswith(prefix):
            name = metric[len(prefix) :]
            break
    return cls.baseline(name, length or 0, dict(cls.options))  # (digits: no length)


def tokens_per_row(length: int, n: int, rng: np.random.Generator, k: int) -> np.ndarray:
    """(n, k) sorted distinct positions in [0, length) per row, without a Python loop."""
    return np.sort(np.argsort(rng.random((n, length)), axis=1)[:, :k], axis=1)
