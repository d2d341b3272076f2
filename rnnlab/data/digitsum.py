"""nndl's DigitSum memory test (chapter 6.1): remember the first two digits of a sequence
and output their sum.

Each of the 100 base pairs (n1, n2) in 0-9 x 0-9 becomes a sequence `n1 n2 0 ... 0` of
the given length; each augmented copy (k per pair) sets one random position after the
first two to a random digit. The label is n1 + n2, so 19 classes. Files hold one example
a line: the digits separated by spaces, a tab, the label. Generation is vectorised and
deterministic: each (seed, length, split) has its own random stream, so a length's files
do not depend on which other lengths were asked for.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError
from rnnlab.runs.fileio import write_atomic

from .base import DATASETS
from .labelled import PAD, ClassifyDataset, Labelled, Sequences, check_splits
from .safe_read import read_input
from .store import data_dir, resolve_data_path
from .vocab import UNK, Vocab

NUM_CLASSES = 19  # sums 0..18
SPLIT_SEEDS = {"train": 0, "dev": 1, "test": 2}
LINE = re.compile(rb"[0-9]( [0-9])*\t[0-9]{1,2}")


def generate(length: int, k: int, seed: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(digits (100 k, length) uint8, labels (100 k,)): k augmented copies of each pair."""
    check_generation(length, k)
    rng = np.random.default_rng([seed, length, SPLIT_SEEDS[split]])
    n1, n2 = np.divmod(np.repeat(np.arange(100), k), 10)  # (100 k,) each, pair by pair
    digits = np.zeros((100 * k, length), dtype=np.uint8)  # (N, length)
    digits[:, 0], digits[:, 1] = n1, n2
    position = rng.integers(2, length, size=100 * k)  # (N,) in [2, length)
    digits[np.arange(100 * k), position] = rng.integers(0, 10, size=100 * k)
    return digits, n1 + n2


def check_generation(length: int, k: int, k_name: str = "k") -> None:
    if length < 3:
        raise RnnlabError(
            f"a DigitSum length must be >= 3 (two digits to add and one more), got {length}"
        )
    if k < 1:
        raise RnnlabError(f"{k_name} (augmented copies per digit pair) must be >= 1, got {k}")


def format_lines(digits: np.ndarray, labels: np.ndarray) -> bytes:
    """'d d ... d<TAB>label\\n' per row, built as one byte matrix (no loop over digits)."""
    n, length = digits.shape
    body = np.full((n, 2 * length), ord(" "), dtype=np.uint8)  # (N, 2 length)
    body[:, 0::2] = digits + ord("0")
    body[:, -1] = ord("\t")
    tails = np.char.encode(np.char.mod("%d\n", labels), "ascii")  # (N,) b"label\n"
    return b"".join(row + tail for row, tail in zip(body.view(f"S{2 * length}")[:, 0], tails))


def write_lengths(out: Path, lengths: list[int], k_train: int, k_eval: int, seed: int) -> None:
    """`out/<length>/{train,dev,test}.txt` for each length, each file written atomically."""
    if not 0 <= seed < 2**63:
        raise RnnlabError(f"--seed must be >= 0 (and < 2**63), got {seed}")
    for length in lengths:
        check_generation(length, k_train, "--k-train")
        check_generation(length, k_eval, "--k-eval")
    for length in lengths:
        for split in ("train", "dev", "test"):
            k = k_train if split == "train" else k_eval
            lines = format_lines(*generate(length, k, seed, split))
            try:
                write_atomic(out / str(length) / f"{split}.txt", lines)
            except OSError as err:
                raise RnnlabError(
                    f"cannot write DigitSum data into {out}: {err.strerror}"
                ) from None


def parse_file(path: Path, length: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(digits (N, length), labels (N,)) of a DigitSum file; a malformed line is an error
    naming the file and the line."""
    lines = read_input(path, "DigitSum file").rstrip(b"\r\n").split(b"\n")
    if lines == [b""]:
        raise RnnlabError(f"{path} has no examples")
    sequences, labels = [], np.zeros(len(lines), dtype=np.int64)
    for number, line in enumerate(lines, start=1):  # one regex per line, none per digit
        line = line.rstrip(b"\r")
        if not LINE.fullmatch(line):
            shown = line[:60].decode("utf-8", "replace")
            raise RnnlabError(
                f"{path} line {number}: expected digits separated by spaces, a tab and "
                f"the label, got {shown!r}"
            )
        sequence, label = line.split(b"\t")
        if len(sequence) != len(lines[0].split(b"\t")[0]):
            raise RnnlabError(f"{path} line {number}: its length differs from line 1's")
        labels[number - 1] = int(label)
        if labels[number - 1] >= NUM_CLASSES:
            raise RnnlabError(f"{path} line {number}: label {label.decode()} is not 0-18")
        sequences.append(sequence)
    flat = np.frombuffer(b" ".join(sequences) + b" ", dtype=np.uint8)[0::2]  # "d " pairs
    digits = (flat - ord("0")).reshape(len(lines), -1)  # (N, length)
    if length is not None and digits.shape[1] != length:
        raise RnnlabError(
            f"{path}: sequences have {digits.shape[1]} digits, data.length is {length}"
        )
    return digits, labels


def digit_vocab() -> Vocab:
    """<unk>, <pad>, then '0'..'9' (ids 2..11)."""
    return Vocab([UNK, PAD] + [str(d) for d in range(10)])


@DATASETS.register("digitsum")
class DigitSum(ClassifyDataset):
    """`data.path`: a `gen-data digitsum` folder holding `<length>/`; without it, the
    length is generated into rnnlab's data directory (seed 0, k 3 train / 1 dev and test,
    as `gen-data`'s defaults) on first use."""

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        if cfg.data.length is None:
            raise RnnlabError("dataset 'digitsum' needs data.length: the sequence length (e.g. 10)")
        if cfg.data.length < 3:
            raise RnnlabError(f"'data.length' must be >= 3 for digitsum, got {cfg.data.length}")

    def load(self, cfg: Config) -> Labelled:
        length = cfg.data.length
        assert length is not None  # check_config refused a config without it
        if cfg.data.path:
            folder = resolve_data_path(cfg.data.path) / str(length)
            if not folder.is_dir():
                raise RnnlabError(
                    f"{folder} not found: data.path must be a gen-data digitsum folder holding {length}/"
                )
        else:
            folder = generated_folder(length)
        vocab, splits = digit_vocab(), {}
        for split in ("train", "dev", "test"):
            digits, labels = parse_file(folder / f"{split}.txt", length)
            splits[split] = Sequences.from_matrix(digits.astype(np.int64) + 2, labels)
        check_splits("digitsum", splits, NUM_CLASSES)
        return Labelled(vocab, [str(s) for s in range(NUM_CLASSES)], splits)


def generated_folder(length: int) -> Path:
    """data_dir/digitsum/<length>/, generated on first use into a temporary folder that is
    renamed into place, so a reader never sees half a folder."""
    parent = data_dir() / "digitsum"
    folder = parent / str(length)
    if (folder / "test.txt").is_file():
        return folder
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{length}."))
    except OSError as err:
        raise RnnlabError(
            f"cannot write DigitSum data into {parent} ({err.strerror}): set RNNLAB_DATA_DIR "
            f"to a writable folder, or run `rnnlab gen-data digitsum` and set data.path"
        ) from None
    try:
        write_lengths(tmp, [length], k_train=3, k_eval=1, seed=0)
        os.replace(tmp / str(length), folder)
    except OSError:
        if not (folder / "test.txt").is_file():  # not another process winning the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
