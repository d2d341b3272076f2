"""Language-model corpora: The Time Machine (d2l), the Jay Chou lyrics (d2l-zh), and any
local UTF-8 text file."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError

from .base import DATASETS, TextCorpus, tokenize
from .safe_read import Budget, read_bytes
from .store import Resource, fetch

TIME_MACHINE = Resource(
    "timemachine.txt",
    "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
    sha1="090b5e7e70c295757f55df93cb0a180b9691891a",
)
JAY_CHOU = Resource(
    "jaychou_lyrics.txt.zip",
    "https://raw.githubusercontent.com/d2l-ai/d2l-zh/89403b9792861d86a0f1735cdd4a3d60c423f5a2/data/jaychou_lyrics.txt.zip",
    sha256="3cfedd7d174111cdad5a27eaffaa6a2432a2842cf2590a03dd8a97610ea07043",
)


def read_text_file(path: Path) -> str:
    try:
        return read_bytes(Path(path)).decode("utf-8")  # bounded: safe_read.py
    except FileNotFoundError:
        raise RnnlabError(f"data file not found: {path}") from None
    except IsADirectoryError:
        raise RnnlabError(f"{path} is a folder, not a text file") from None
    except UnicodeDecodeError as err:
        raise RnnlabError(
            f"{path} is not UTF-8 text (byte {err.start} cannot be decoded)"
        ) from None


@DATASETS.register("timemachine")
class TimeMachine(TextCorpus):
    """H. G. Wells, The Time Machine, preprocessed as in d2l section 8.2: on each line,
    runs of non-letters become one space, then strip and lowercase; character tokens join
    the lines with nothing between them (so a vocabulary of 26 letters, space, <unk>)."""

    def read_tokens(self, cfg) -> np.ndarray:
        path = Path(cfg.data.path) if cfg.data.path else fetch(TIME_MACHINE)
        text = read_text_file(path)
        lines = [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in text.splitlines()]
        return tokenize(
            "".join(lines) if cfg.data.token == "char" else "\n".join(lines), cfg.data.token
        )


@DATASETS.register("jaychou")
class JayChou(TextCorpus):
    """The Jay Chou lyrics of d2l-zh section 6.3: newlines become spaces, character tokens,
    the first 10,000 characters for training unless data.max_tokens says otherwise."""

    default_max_tokens = 10_000

    def read_tokens(self, cfg) -> np.ndarray:
        path = Path(cfg.data.path) if cfg.data.path else fetch(JAY_CHOU)
        try:
            with zipfile.ZipFile(path) as archive:
                raw = Budget(path).zip_member(archive, "jaychou_lyrics.txt")
        except (zipfile.BadZipFile, KeyError, OSError) as err:
            raise RnnlabError(f"{path} is not the Jay Chou lyrics zip ({err})") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RnnlabError(f"{path}: jaychou_lyrics.txt is not UTF-8 text") from None
        return tokenize(text.replace("\n", " ").replace("\r", " "), cfg.data.token)


@DATASETS.register("text")
class LocalText(TextCorpus):
    """Any UTF-8 text file (`data.path`), in any script: lines are joined with spaces and
    characters kept as they are, so Chinese, accents and case all survive."""

    @classmethod
    def check_config(cls, cfg) -> None:
        if not cfg.data.path:
            raise RnnlabError("dataset 'text' needs data.path: the UTF-8 text file to train on")

    def read_tokens(self, cfg) -> np.ndarray:
        text = read_text_file(Path(cfg.data.path))
        return tokenize(" ".join(line.strip() for line in text.splitlines()), cfg.data.token)
