"""The dataset base class and its registry.

A dataset is registered by name (`@DATASETS.register("timemachine")`) and says what it
holds by its base class: `TextCorpus` (a token stream, for a language model) or
`ClassifyDataset` (sequences with one label each, `labelled.py`); `rnnlab.tasks` picks
the task from that class. Modules here use NumPy only; torch comes in at training time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError
from rnnlab.registry import Registry

from .tokens import Tokens, encode, tokenize, vocab_and_ids
from .vocab import Vocab


class Dataset:
    """Base of every dataset. Subclasses derive from TextCorpus or ClassifyDataset (what
    their data is) and implement `load`."""

    unused_model_keys: tuple[str, ...] = ()  # model keys its task ignores: set, an error

    @classmethod
    def what_it_trains(cls) -> str:
        """How an error names the task of a dataset that ignores some model keys."""
        return "trains a classifier"

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
    splits: dict[str, np.ndarray]  # "train", "valid" (and "test") -> token ids (`id_dtype`)

    def split(self, name: str) -> np.ndarray:
        return self.splits[name]


class TextCorpus(Dataset):
    """A language-model corpus. Stream corpora implement `read_tokens` (one text, the
    last `data.valid_fraction` held out); corpora with their own splits implement
    `read_split(cfg, split)` and name them in `own_splits` (a test split is then tested)."""

    default_max_tokens: int | None = None  # used when data.max_tokens is null
    default_newlines = "keep"  # data.newlines when null: "keep" or "space"
    default_eos = False  # data.eos when null

    @classmethod
    def check_config(cls, cfg) -> None:
        if cls.eos(cfg) and cfg.data.token != "word":
            raise RnnlabError(
                f"data.eos applies to word tokens (data.token: word); a {cfg.data.token}-level "
                f"model keeps the newline itself (data.newlines: keep)"
            )
        if cls.eos(cfg) and cfg.data.newlines == "space":
            raise RnnlabError(
                "data.eos: true ends each line with <eos>: not with data.newlines: space"
            )

    @classmethod
    def newlines(cls, cfg) -> str:
        return cfg.data.newlines or cls.default_newlines

    @classmethod
    def eos(cls, cfg) -> bool:
        return cls.default_eos if cfg.data.eos is None else cfg.data.eos

    def read_tokens(self, cfg) -> Tokens:
        """Every token of the text in order (stream corpora)."""
        raise NotImplementedError

    def own_splits(self, cfg) -> tuple[str, ...]:
        """The splits this corpus comes in, e.g. ("train", "valid", "test"); () for one
        stream that `data.valid_fraction` splits."""
        return ()

    def read_split(self, cfg, split: str) -> Tokens | None:
        """The tokens of one of `own_splits` (None: this corpus has no such split)."""
        raise NotImplementedError

    def tokenize(self, cfg, text: str) -> Tokens:
        """`text`'s tokens as the config asks: newlines kept as tokens or not, and with
        data.eos one `<eos>` at the end of every line, the last one included."""
        eos = self.eos(cfg)
        if eos and text and not text.endswith("\n"):
            text += "\n"
        keep = self.newlines(cfg) == "keep"
        return tokenize(text, cfg.data.token, keep_newlines=keep, eos=eos)

    def load(self, cfg) -> Corpus:
        """The vocabulary of the training tokens and every split's ids under it."""
        max_tokens = cfg.data.max_tokens or self.default_max_tokens
        total = 0  # tokens of a single text, before it is split
        if self.own_splits(cfg):
            read = {split: self.read_split(cfg, split) for split in self.own_splits(cfg)}
            parts = {split: tokens for split, tokens in read.items() if tokens is not None}
            parts["train"] = parts["train"][:max_tokens]
        else:
            tokens = self.read_tokens(cfg)
            total = len(tokens)
            train, valid = split_tokens(tokens, max_tokens, cfg.data.valid_fraction)
            parts = {"train": train, "valid": valid}
            del tokens
        source = cfg.data.path or f"the {cfg.data.dataset} text"
        if len(parts["train"]) == 0 and total:
            raise RnnlabError(
                f"dataset '{cfg.data.dataset}': {source} has only {total} token(s), too few "
                f"to train on once at least 2 are held out for validation"
            )
        if len(parts["train"]) == 0:
            raise RnnlabError(f"dataset '{cfg.data.dataset}' has no tokens: {source} is empty")
        for split, tokens in parts.items():
            if split != "train" and len(tokens) < 2:  # a token to read and one to predict
                raise RnnlabError(
                    f"dataset '{cfg.data.dataset}': the {split} text of {source} has "
                    f"{len(tokens)} token(s); evaluating needs at least 2"
                )
        vocab, train_ids = vocab_and_ids(parts.pop("train"), cfg.data.min_freq)
        held_out = {split: encode(tokens, vocab.token_to_idx) for split, tokens in parts.items()}
        return Corpus(vocab, {"train": train_ids, **held_out})


def split_tokens(tokens, max_tokens: int | None, valid_fraction: float):
    """(train, valid) of a token sequence (`Tokens` or an array): the first `max_tokens`
    (all but the last `valid_fraction` without a cap) for training; validation text follows the training text and never overlaps it."""
    n = len(tokens)
    if max_tokens is not None and max_tokens < n:
        n_valid = max(2, int(round(max_tokens * valid_fraction)))
        return tokens[:max_tokens], tokens[max_tokens : max_tokens + n_valid]
    n_valid = max(2, int(round(n * valid_fraction)))
    return tokens[: n - n_valid], tokens[n - n_valid :]


def char_tokens(text: str) -> np.ndarray:
    """The characters of `text` as a NumPy array of 1-character strings, without a loop."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<U1")
