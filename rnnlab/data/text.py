"""Language-model corpora: The Time Machine (d2l), the Jay Chou lyrics (d2l-zh), and any
local UTF-8 text file or folder of split files."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from rnnlab.config import Config
from rnnlab.errors import RnnlabError

from .base import DATASETS, TextCorpus
from .safe_read import Budget, read_input
from .store import Resource, fetch
from .textcls import normalise, read_utf8
from .tokens import Tokens

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
    return read_utf8(read_input(path, "data file"), str(path))


@DATASETS.register("timemachine")
class TimeMachine(TextCorpus):
    """H. G. Wells, The Time Machine, preprocessed as in d2l section 8.2: on each line,
    runs of non-letters become one space, then strip and lowercase. By default (d2l) the
    lines are joined with nothing between them for character tokens (a vocabulary of 26
    letters, space, <unk>) and split into words for word tokens; `data.newlines: keep`
    joins them with newline tokens, `space` with spaces."""

    default_newlines = "d2l"

    def read_tokens(self, cfg) -> Tokens:
        path = Path(cfg.data.path) if cfg.data.path else fetch(TIME_MACHINE)
        text = read_text_file(path)
        lines = [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in text.splitlines()]
        d2l = "" if cfg.data.token == "char" else "\n"
        joiner = {"keep": "\n", "space": " "}.get(self.newlines(cfg), d2l)
        return self.tokenize(cfg, joiner.join(lines))


@DATASETS.register("jaychou")
class JayChou(TextCorpus):
    """The Jay Chou lyrics of d2l-zh section 6.3: newlines become spaces (d2l-zh's
    preprocessing; `data.newlines: keep` keeps them), character tokens, the first 10,000
    characters for training unless data.max_tokens says otherwise."""

    default_max_tokens = 10_000
    default_newlines = "space"

    def read_tokens(self, cfg) -> Tokens:
        path = Path(cfg.data.path) if cfg.data.path else fetch(JAY_CHOU)
        try:
            with zipfile.ZipFile(path) as archive:
                raw = Budget(path).zip_member(archive, "jaychou_lyrics.txt")
        except (zipfile.BadZipFile, KeyError, OSError) as err:
            raise RnnlabError(f"{path} is not the Jay Chou lyrics zip ({err})") from None
        try:
            text = normalise(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise RnnlabError(f"{path}: jaychou_lyrics.txt is not UTF-8 text") from None
        if self.newlines(cfg) == "space":
            return self.tokenize(cfg, text.replace("\n", " ").replace("\r", " "))
        return self.tokenize(cfg, text.replace("\r\n", "\n").replace("\r", "\n"))


@DATASETS.register("text")
class LocalText(TextCorpus):
    """Any UTF-8 text (`data.path`), in any script, characters kept as they are (Chinese,
    accents and case all survive) and newlines as tokens (`data.newlines: space` joins the
    stripped lines with spaces instead). `data.path` is one file, whose last
    `data.valid_fraction` is held out, or a folder of split files (`split_files`)."""

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        if not cfg.data.path:
            raise RnnlabError(
                "dataset 'text' needs data.path: the UTF-8 text file (or folder of "
                "train/valid/test files) to train on"
            )
        super().check_config(cfg)

    def own_splits(self, cfg) -> tuple[str, ...]:
        return SPLITS if Path(cfg.data.path).is_dir() else ()

    def read_tokens(self, cfg) -> Tokens:
        return self.tokenize(cfg, self.read(cfg, read_text_file(Path(cfg.data.path))))

    def read_split(self, cfg, split: str) -> Tokens | None:
        path = split_files(Path(cfg.data.path)).get(split)
        return None if path is None else self.tokenize(cfg, self.read(cfg, read_text_file(path)))

    def read(self, cfg, text: str) -> str:
        if self.newlines(cfg) == "space":
            return " ".join(line.strip() for line in text.splitlines())
        return text


SPLITS = ("train", "valid", "test")


def split_files(folder: Path) -> dict[str, Path]:
    """{split: file} in a folder of split files: a file belongs to a split when the split's
    name is one of the dot-separated parts of its name (`train`, `train.txt`,
    `wiki.train.tokens`, `ptb.train.txt`). A train and a valid file are required."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    found = {}
    for split in SPLITS:
        matches = [p for p in files if split in p.name.split(".")]
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches)
            raise RnnlabError(f"{folder} has several {split} files ({names}): keep one")
        if matches:
            found[split] = matches[0]
        elif split != "test":
            raise RnnlabError(
                f"{folder} has no {split} file: a split folder needs {split}.txt (or a name "
                f"like wiki.{split}.tokens), a valid one, and optionally a test one"
            )
    return found
