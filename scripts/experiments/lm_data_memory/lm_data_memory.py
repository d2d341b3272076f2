"""Peak memory of building a word-level corpus (PTB's training text): rnnlab's byte-span
tokens (`rnnlab.data.tokens`) against a NumPy string array of the words (the former
`np.array(text.split())` path), measured with tracemalloc (NumPy reports its buffers to it),
per byte of text and as multiples of the ids as int64.

    RNNLAB_DATA_DIR=../shared/data python scripts/experiments/lm_data_memory/lm_data_memory.py
"""

from __future__ import annotations

import time
import tracemalloc
import zipfile

import numpy as np

from rnnlab.data.store import data_dir
from rnnlab.data.tokens import tokenize, vocab_and_ids
from rnnlab.data.vocab import Vocab


def read_train() -> str:
    with zipfile.ZipFile(data_dir() / "ptb.zip") as archive:
        return archive.read("ptb/ptb.train.txt").decode("utf-8")


def spans(text: str) -> np.ndarray:
    vocab, ids = vocab_and_ids(tokenize(text, "word", eos=True))
    return ids


def string_array(text: str) -> np.ndarray:
    words = np.array(text.replace("\n", " <eos> ").split(), dtype=str)
    return Vocab.build(words).encode(words)


def measure(build, text: str) -> tuple[np.ndarray, int, float]:
    tracemalloc.start()
    started = time.perf_counter()
    ids = build(text)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return ids, peak, seconds


def main() -> None:
    text = read_train()
    size = len(text.encode())
    print(f"ptb.train.txt: {size:,} bytes of text")
    for name, build in (("byte spans (rnnlab)", spans), ("string array", string_array)):
        ids, peak, seconds = measure(build, text)
        encoded = len(ids) * 8  # as int64
        print(
            f"{name:20s} tokens {len(ids):,} ({ids.dtype})  peak {peak / 2**20:.1f} MiB = "
            f"{peak / size:.1f} bytes per byte of text = {peak / encoded:.1f}x int64 ids  "
            f"{seconds:.2f} s"
        )


if __name__ == "__main__":
    main()
