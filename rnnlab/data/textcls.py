"""Labelled texts -> a `Labelled` data set: tokenise, split off dev, build the vocabulary
from the training split, encode, truncate; and a cache of the result in the data directory.

Tokens are lowercase words (letters and digits, inner apostrophes kept: "don't") and
single punctuation marks; IMDB's `<br />` line breaks are dropped. All documents of a
split are tokenised by one regular-expression pass over their concatenation, counted with
`np.bincount` of provisional ids that `map` over a dict assigns, so no Python bytecode runs per
token.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError
from rnnlab.runs.fileio import write_with

from .labelled import PAD, SPLITS, Labelled, Sequences, check_splits, hold_out
from .store import data_dir
from .vocab import UNK, Vocab

TOKENIZER_VERSION = 1  # part of the cache key: bump when tokenisation changes
TOKEN = re.compile(r"\n|[^\W_]+(?:'[^\W_]+)*|[^\w\s]")
Texts = tuple[list[str], np.ndarray]  # (texts, class indices)


def tokenize(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """(every token of every text in order, tokens per text (n,))."""
    if not texts:
        return [], np.zeros(0, dtype=np.int64)
    joined = "\n".join(t.replace("\n", " ") for t in texts).lower().replace("<br />", " ")
    tokens = TOKEN.findall(joined)
    is_break = np.fromiter(map("\n".__eq__, tokens), dtype=bool, count=len(tokens))
    breaks = np.flatnonzero(is_break)  # (n - 1,) positions of the separators
    lengths = np.diff(np.concatenate([[-1], breaks, [len(tokens)]])) - 1  # (n,)
    return tokens, lengths


def encode_with(index: dict[str, int], tokens: list[str]) -> np.ndarray:
    """Ids of `tokens` under `index`; unknown tokens (and separators) get 0."""
    return np.fromiter(map(index.get, tokens, repeat(0)), dtype=np.int64, count=len(tokens))


def build_labelled(name: str, data: dict[str, Texts], classes: list[str], cfg: Config) -> Labelled:
    """Tokenise the splits in `data` ("train", "test", optionally "dev"); split off what is
    missing from train (dev, and test too if absent) with data.valid_fraction and the seed;
    vocabulary from the training split only (data.min_freq); truncate to data.max_len."""
    d = cfg.data
    tokens, lengths = tokenize(data["train"][0])
    types = {t: i for i, t in enumerate(dict.fromkeys(tokens))}  # first-appearance order
    keep = np.fromiter(map("\n".__ne__, tokens), dtype=bool, count=len(tokens))
    ids = encode_with(types, tokens)[keep]  # (train tokens,) provisional type ids
    splits = {"train": Sequences.from_lengths(ids, lengths, data["train"][1])}
    total = len(splits["train"])
    for which, split in enumerate(("test", "dev")):
        if split not in data:  # each held-out split is valid_fraction of the original train
            fraction = d.valid_fraction * total / len(splits["train"])
            rest, held = hold_out(splits["train"], fraction, [cfg.seed, which])
            splits["train"], splits[split] = rest, held
    counts = np.bincount(splits["train"].ids, minlength=len(types))  # (types,)
    order = np.argsort(-counts, kind="stable")  # by count, ties by first appearance
    order = order[counts[order] >= max(d.min_freq, 1)]
    vocab = Vocab([UNK, PAD] + [str(t) for t in np.array(list(types), dtype=object)[order]])
    remap = np.zeros(len(types), dtype=np.int64)  # provisional id -> vocabulary id (0: <unk>)
    remap[order] = np.arange(2, len(order) + 2)
    for split, seqs in list(splits.items()):
        splits[split] = Sequences(remap[seqs.ids], seqs.offsets, seqs.labels)
    for split in ("dev", "test"):
        if split in data:
            split_tokens, split_lengths = tokenize(data[split][0])
            keep = np.fromiter(map("\n".__ne__, split_tokens), dtype=bool, count=len(split_tokens))
            encoded = encode_with(vocab.token_to_idx, split_tokens)[keep]
            splits[split] = Sequences.from_lengths(encoded, split_lengths, data[split][1])
    splits = {s: splits[s].truncate(d.max_len) for s in SPLITS}
    check_splits(name, splits, len(classes))
    return Labelled(vocab, classes, splits)


# --- the cache: one .npz per source and settings, written atomically ---


def cache_path(name: str, key: dict) -> Path:
    text = json.dumps({**key, "tokenizer": TOKENIZER_VERSION}, sort_keys=True)
    return data_dir() / "cache" / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"


def load_cached(path: Path) -> Labelled | None:
    """The cached data set at `path`, or None when it is absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            splits = {
                s: Sequences(z[f"{s}_ids"], z[f"{s}_offsets"], z[f"{s}_labels"]) for s in SPLITS
            }
            return Labelled(Vocab(z["vocab"].tolist()), z["classes"].tolist(), splits)
    except (OSError, ValueError, KeyError):
        return None


def save_cached(path: Path, data: Labelled) -> bool:
    """Write the cache; False (and nothing written) when the data directory is read-only."""
    arrays: dict[str, Any] = {
        "vocab": np.array(data.vocab.idx_to_token),
        "classes": np.array(data.classes),
    }
    for s, seqs in data.splits.items():
        ids = seqs.ids.astype(np.int32)  # half the size on disk; int64 again in batches
        arrays.update({f"{s}_ids": ids, f"{s}_offsets": seqs.offsets, f"{s}_labels": seqs.labels})
    try:
        write_with(path, lambda f: np.savez(f, **arrays))
    except OSError:
        return False
    return True


def cached(name: str, key: dict, build) -> Labelled:
    """`build()`'s data set, from the cache when the same source and settings were seen."""
    path = cache_path(name, key)
    data = load_cached(path)
    if data is None:
        data = build()
        save_cached(path, data)
    return data


def source_key(path: Path) -> dict:
    """What identifies a source's content for the cache: path, size and modification times
    (of the file, or of a folder's sub-folders, which change when files come or go)."""
    path = Path(path).resolve()
    if path.is_file():
        stat = path.stat()
        return {"path": str(path), "size": stat.st_size, "mtime": stat.st_mtime_ns}
    folders = sorted(Path(root) for root, _, _ in os.walk(path))
    return {"path": str(path), "mtimes": [p.stat().st_mtime_ns for p in folders]}


def settings_key(cfg: Config) -> dict:
    d = cfg.data
    return {
        "min_freq": d.min_freq,
        "max_len": d.max_len,
        "valid_fraction": d.valid_fraction,
        "seed": cfg.seed,
    }


def read_utf8(raw: bytes, where: str) -> str:
    """UTF-8 text with its line ends normalised (`normalise`)."""
    try:
        return normalise(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise RnnlabError(
            f"{where} is not UTF-8 text (byte {err.start} cannot be decoded)"
        ) from None


def normalise(text: str) -> str:
    """A leading byte-order mark dropped and CRLF or CR line ends made "\n", so neither
    becomes a token of the vocabulary (nor shows in samples)."""
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text
