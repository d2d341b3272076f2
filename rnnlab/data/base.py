"""The dataset base class and its registry.

A dataset is registered by name (`@DATASETS.register("timemachine")`) and declares which
task it feeds: `"lm"` (a token stream for a language model) or `"classify"` (sequences
with one label each). Modules here use NumPy only; torch comes in at training time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError
from rnnlab.registry import Registry

from .vocab import Vocab


class Dataset:
    """Base of every dataset. Subclasses set `task` and implement `load`."""

    task = "lm"  # "lm" or "classify": which training task this data feeds
    predict_option = "--prefix"  # what `rnnlab predict` takes for a model of this data

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        """Fail early, before any data is read, on config values this dataset cannot use."""

    def load(self, cfg: Config):
        """The data for `cfg`: a `Corpus` ("lm") or a `Labelled` ("classify")."""
        raise NotImplementedError


DATASETS: Registry[type[Dataset]] = Registry("dataset")


@dataclass
class Corpus:
    """A language-model corpus: a vocabulary and one id array per split."""

    vocab: Vocab
    splits: dict[str, np.ndarray]  # "train", "valid" -> int64 token ids

    def split(self, name: str) -> np.ndarray:
        return self.splits[name]


class TextCorpus(Dataset):
    """A corpus read as one token stream; subclasses implement `read_tokens`."""

    task = "lm"
    default_max_tokens: int | None = None  # used when data.max_tokens is null

    def read_tokens(self, cfg: Config) -> np.ndarray:
        """Every token of the text in order, as a NumPy string array."""
        raise NotImplementedError

    def load(self, cfg: Config) -> Corpus:
        tokens = self.read_tokens(cfg)
        if tokens.size == 0:
            source = cfg.data.path or f"the {cfg.data.dataset} text"
            raise RnnlabError(f"dataset '{cfg.data.dataset}' has no tokens: {source} is empty")
        max_tokens = cfg.data.max_tokens or self.default_max_tokens
        train, valid = split_tokens(tokens, max_tokens, cfg.data.valid_fraction)
        vocab = Vocab.build(train, min_freq=cfg.data.min_freq)
        return Corpus(vocab, {"train": vocab.encode(train), "valid": vocab.encode(valid)})


def split_tokens(tokens: np.ndarray, max_tokens: int | None, valid_fraction: float):
    """(train, valid): the first `max_tokens` (all but the last `valid_fraction` without a
    cap) for training; validation text follows the training text and never overlaps it."""
    n = len(tokens)
    if max_tokens is not None and max_tokens < n:
        n_valid = max(2, int(round(max_tokens * valid_fraction)))
        return tokens[:max_tokens], tokens[max_tokens : max_tokens + n_valid]
    n_valid = max(2, int(round(n * valid_fraction)))
    return tokens[: n - n_valid], tokens[n - n_valid :]


def char_tokens(text: str) -> np.ndarray:
    """The characters of `text` as a NumPy array of 1-character strings, without a loop."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<U1")


def word_tokens(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=str)


def tokenize(text: str, token: str) -> np.ndarray:
    return char_tokens(text) if token == "char" else word_tokens(text)
