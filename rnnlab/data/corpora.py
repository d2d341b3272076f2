"""The language-modelling benchmarks: Penn Treebank (word level, Mikolov's splits) and
Tiny Shakespeare (character level, nanoGPT's split), read from rnnlab's data directory
(downloaded there with their checksums when missing) or from `data.path`."""

from __future__ import annotations

import zipfile
from pathlib import Path

from rnnlab.errors import RnnlabError

from .base import DATASETS, TextCorpus
from .store import Resource, fetch, resolve_data_path
from .text import read_text_file
from .textcls import normalise
from .tokens import Tokens

PTB = Resource(
    "ptb.zip",
    "http://d2l-data.s3-accelerate.amazonaws.com/ptb.zip",
    sha1="319d85e578af0cdc590547f26231e4e31cdf1e42",
)
SHAKESPEARE = Resource(
    "tinyshakespeare.txt",
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    sha1="04486597058d11dcc2c556b1d0433891eb639d2e",
)


@DATASETS.register("ptb")
class PennTreebank(TextCorpus):
    """Mikolov's Penn Treebank: `ptb/ptb.{train,valid,test}.txt` of ptb.zip, one `<eos>`
    at each line end as every published result counts it (929,589 / 73,760 / 82,430
    tokens, 10,000 words with the text's own `<unk>`). Word tokens only."""

    default_eos = True

    @classmethod
    def check_config(cls, cfg) -> None:
        if cfg.data.token != "word":
            raise RnnlabError("dataset 'ptb' is word level: set data.token: word")
        super().check_config(cfg)

    def own_splits(self, cfg) -> tuple[str, ...]:
        return ("train", "valid", "test")

    def read_split(self, cfg, split: str) -> Tokens:
        path = resolve_data_path(cfg.data.path) if cfg.data.path else fetch(PTB)
        member = f"ptb/ptb.{split}.txt"
        try:
            with zipfile.ZipFile(path) as archive:
                raw = archive.read(member)
        except (zipfile.BadZipFile, KeyError, OSError) as err:
            raise RnnlabError(f"{path} is not the PTB zip with {member} ({err})") from None
        text = normalise(raw.decode("utf-8", errors="replace"))
        return self.tokenize(cfg, text)


@DATASETS.register("shakespeare")
class TinyShakespeare(TextCorpus):
    """Tiny Shakespeare (char-rnn, nanoGPT): the first 90 % of the text for training, the
    last 10 % for validation, cut as nanoGPT's prepare.py cuts it (`text[:int(n * 0.9)]`),
    newlines kept; `data.max_tokens` shortens the training part only."""

    def own_splits(self, cfg) -> tuple[str, ...]:
        return ("train", "valid")

    def read_split(self, cfg, split: str) -> Tokens:
        path = resolve_data_path(cfg.data.path) if cfg.data.path else fetch(SHAKESPEARE)
        text = read_text_file(Path(path))
        cut = int(len(text) * 0.9)
        part = text[:cut] if split == "train" else text[cut:]
        if self.newlines(cfg) == "space":
            part = part.replace("\n", " ")
        return self.tokenize(cfg, part)
