"""Your own labelled text: `csv`, a CSV file with a header row, a text column
(`data.text_column`) and a label column (`data.label_column`).

`data.path` is one CSV file (dev and test are each a seeded `data.valid_fraction` of it),
or a folder holding `train.csv` and optionally `dev.csv` and `test.csv` (what is missing
is held out from train). The classes are the training split's distinct labels, sorted.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from rnnlab.config import Config
from rnnlab.errors import RnnlabError

from .base import DATASETS
from .labelled import ClassifyDataset, Labelled
from .safe_read import read_input
from .store import resolve_data_path
from .textcls import build_labelled, cached, read_utf8, settings_key, source_key


def read_rows(path: Path, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    """(texts, labels as strings) of one CSV file."""
    text = read_utf8(read_input(path, "CSV file"), str(path))
    reader = csv.reader(
        io.StringIO(text.removeprefix("\ufeff"), newline="")
    )  # quoted newlines kept
    header = next(reader, None)
    if header is None:
        raise RnnlabError(f"{path} is empty: a header row and one row per example expected")
    for key, column in (("data.text_column", text_column), ("data.label_column", label_column)):
        if column not in header:
            raise RnnlabError(
                f"{path} has no column '{column}' ({key}); its columns: {', '.join(header)}"
            )
    t, lab = header.index(text_column), header.index(label_column)
    texts, labels = [], []
    for row in reader:  # a loop over examples, not tokens
        if not row:
            continue
        if len(row) != len(header):
            raise RnnlabError(
                f"{path} line {reader.line_num}: {len(row)} fields, the header has {len(header)}"
            )
        texts.append(row[t])
        labels.append(row[lab].strip())
    return texts, labels


@DATASETS.register("csv")
class CsvText(ClassifyDataset):
    @classmethod
    def check_config(cls, cfg: Config) -> None:
        if not cfg.data.path:
            raise RnnlabError(
                "dataset 'csv' needs data.path: a CSV file or a folder with train.csv"
            )

    def load(self, cfg: Config) -> Labelled:
        assert cfg.data.path is not None  # check_config refused a config without it
        path = resolve_data_path(cfg.data.path)
        if path.is_dir():
            files = {s: path / f"{s}.csv" for s in ("train", "dev", "test")}
            if not files["train"].is_file():
                raise RnnlabError(f"{path} has no train.csv")
            files = {s: f for s, f in files.items() if s == "train" or f.is_file()}
        elif path.is_file():
            files = {"train": path}
        else:
            raise RnnlabError(f"CSV data not found: {path} (data.path)")
        d = cfg.data
        key = {**source_key(path), **settings_key(cfg), "columns": [d.text_column, d.label_column]}
        return cached("csv", key, lambda: self.build(files, cfg))

    def build(self, files: dict[str, Path], cfg: Config) -> Labelled:
        rows = {
            s: read_rows(f, cfg.data.text_column, cfg.data.label_column) for s, f in files.items()
        }
        classes = sorted(set(rows["train"][1]))
        if len(classes) < 2:
            raise RnnlabError(
                f"{files['train']}: a classifier needs at least 2 labels, found {classes}"
            )
        data = {}
        for split, (texts, labels) in rows.items():
            unknown = sorted(set(labels) - set(classes))
            if unknown:
                raise RnnlabError(
                    f"{files[split]}: label(s) {', '.join(unknown)} not in the training labels"
                )
            index = {c: i for i, c in enumerate(classes)}
            data[split] = (texts, np.array([index[label] for label in labels], dtype=np.int64))
        return build_labelled("csv", data, classes, cfg)
