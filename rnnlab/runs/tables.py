"""CSV tables of rows (dicts): the one writer and the one reader behind metrics.csv and a
sweep's results.csv (and what scripts read back from them).

The columns are the union of the rows' keys in first-seen order; a row without a column
leaves it empty. Read back, numbers become int or float and empty cells None."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rnnlab.config.load import number_or_text
from rnnlab.runs.fileio import check_regular, write_atomic


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write `rows` as a CSV table with a header, atomically."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, out.getvalue())


def read_csv(path: Path) -> list[dict]:
    """The rows of a CSV table with a header ([] when the file is missing). A ragged or
    damaged row is read as far as it goes: extra fields are dropped, missing ones None."""
    check_regular(Path(path), "CSV file")  # a FIFO would block the reader forever
    if not Path(path).is_file():
        return []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.DictReader(f)  # a ragged row: extra fields under None, missing ones None
        return [{k: _cell(v) for k, v in row.items() if k is not None} for row in rows]


def _cell(text: str | None) -> int | float | str | None:
    return number_or_text(text) if text else None
