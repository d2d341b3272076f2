"""The Large Movie Review Dataset (Maas et al., 2011) of d2l section 16.1: 25,000
training and 25,000 test reviews labelled neg/pos, in the layout
`<top>/{train,test}/{pos,neg}/*.txt`.

Read from `data.path` (that folder, or a `.tar.gz` / `.tgz` / `.zip` archive of it, whatever
its top folder is called), else from `aclImdb/` in the data directory, else from the
official archive there (downloaded if missing, sha256 checked). One loader, `read_split`,
takes the split as a parameter; the tokenised result is cached in the data directory.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError

from .base import DATASETS
from .labelled import ClassifyDataset, Labelled
from .safe_read import Budget, check_regular
from .store import Resource, data_dir, fetch, resolve_data_path
from .textcls import Texts, build_labelled, cached, read_utf8, settings_key, source_key

# The sha256 of the official aclImdb_v1.tar.gz (84 MB), as other loaders pin it: GoMLX's
# IMDB example (github.com/gomlx/gomlx, examples/imdb: TarHash) and the Julia DataDeps
# registration "IMDB movie reviews dataset" (CorpusLoaders.jl). Not recomputed here (offline).
IMDB = Resource(
    "aclImdb_v1.tar.gz",
    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
)
CLASSES = ["neg", "pos"]
MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/[^/]+\.txt$")


def source(cfg: Config) -> Path:
    """The folder or archive to read: data.path, else data_dir/aclImdb, else the download."""
    if cfg.data.path:
        path = resolve_data_path(cfg.data.path)
        if not path.exists():
            raise RnnlabError(f"IMDB data not found at {path} (data.path)")
        return path
    folder = data_dir() / "aclImdb"
    return folder if folder.is_dir() else fetch(IMDB)


def read_split(path: Path, split: str) -> Texts:
    """(review texts, labels 0 = neg / 1 = pos) of one split, in file-name order."""
    if path.is_dir():
        members = folder_members(path, split)
    elif path.name.endswith((".tar.gz", ".tgz", ".tar")):
        members = tar_members(path, split)
    elif path.suffix == ".zip":
        members = zip_members(path, split)
    else:
        raise RnnlabError(f"{path}: IMDB data must be a folder, a .tar.gz or a .zip archive")
    for label in CLASSES:
        if not any(lab == label for lab, _, _ in members):
            raise RnnlabError(f"{path}: no {split}/{label}/*.txt reviews (aclImdb layout expected)")
    members.sort(key=lambda m: (m[0], m[1]))
    texts = [read_utf8(raw, f"{path}: {name}") for _, name, raw in members]
    labels = np.array([CLASSES.index(label) for label, _, _ in members], dtype=np.int64)
    return texts, labels


def folder_members(path: Path, split: str) -> list[tuple[str, str, bytes]]:
    roots = [path] + sorted(p for p in path.iterdir() if p.is_dir())
    root = next((r for r in roots if (r / split).is_dir()), None)
    if root is None:
        raise RnnlabError(f"{path}: no {split}/ folder (aclImdb layout expected)")
    return [
        (label, file.name, file.read_bytes())
        for label in CLASSES
        for file in (root / split / label).glob("*.txt")
    ]


def tar_members(path: Path, split: str) -> list[tuple[str, str, bytes]]:
    found = []
    try:
        check_regular(path)  # not a device or a FIFO
        with tarfile.open(path) as archive:
            budget = Budget(path)  # bounded: safe_read.py
            for info in archive:
                match = MEMBER.search(info.name)
                if info.isfile() and match and match[1] == split and "/." not in info.name:
                    found.append((match[2], info.name, budget.tar_member(archive, info)))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise RnnlabError(f"{path} is not a readable tar archive ({err})") from None
    return found


def zip_members(path: Path, split: str) -> list[tuple[str, str, bytes]]:
    found = []
    try:
        check_regular(path)
        with zipfile.ZipFile(path) as archive:
            budget = Budget(path)  # bounded: safe_read.py
            for name in archive.namelist():
                match = MEMBER.search(name)
                if match and match[1] == split and "__MACOSX" not in name and "/." not in name:
                    found.append((match[2], name, budget.zip_member(archive, name)))
    except (zipfile.BadZipFile, OSError) as err:
        raise RnnlabError(f"{path} is not a readable zip archive ({err})") from None
    return found


@DATASETS.register("imdb")
class IMDB_(ClassifyDataset):
    """IMDB sentiment: train and test splits from the data, dev held out from train."""

    def load(self, cfg: Config) -> Labelled:
        path = source(cfg)

        def build() -> Labelled:
            data = {split: read_split(path, split) for split in ("train", "test")}
            return build_labelled("imdb", data, CLASSES, cfg)

        return cached("imdb", {**source_key(path), **settings_key(cfg)}, build)
