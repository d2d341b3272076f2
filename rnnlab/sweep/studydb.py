"""An Optuna search's study database (`study.db`), checked before a resumed search uses it,
and backed up before the resume writes to it.

A study that is damaged (random bytes, cut short), empty, foreign (no study named
`rnnlab`) or that disagrees with the run folders (a finished run the study does not hold as
finished) is refused in one line that says how to recover; nothing is written. The run
folders are the truth: a finished run is finished whatever the study says.
"""

from __future__ import annotations

import shlex
import shutil
import sqlite3
import stat
from pathlib import Path

from rnnlab.errors import RnnlabError

SQLITE_HEADER = b"SQLite format 3\x00"
DONE = {"finished": ("COMPLETE",), "pruned": ("PRUNED",)}  # a folder's status: the study's


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def recovery(path: Path) -> str:
    """How to recover from a bad study.db: its backup if there is one, else a new search."""
    backup = backup_path(path)
    if backup.is_file():
        return f"restore the copy taken before the last resume: cp {shlex.quote(str(backup))} {shlex.quote(str(path))}"
    return "start a new search (the finished runs stay readable in its runs/ folder)"


def trial_folders(sweep_dir: Path) -> list[Path]:
    runs = Path(sweep_dir) / "runs"
    return sorted(p for p in runs.glob("trial-*") if p.is_dir()) if runs.is_dir() else []


def check_study_file(path: Path, study_name: str) -> None:
    """Refuse a study.db that is not a whole SQLite database holding the study; a missing
    one is refused only when trials have already run (a new search has none yet)."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        ran = trial_folders(path.parent)
        if ran:
            raise RnnlabError(
                f"{path} is missing but {len(ran)} trials ran in {path.parent / 'runs'}; "
                f"{recovery(path)}"
            ) from None
        return
    if not stat.S_ISREG(info.st_mode):
        raise RnnlabError(f"{path} is not a regular file; {recovery(path)}")
    if info.st_size == 0:
        raise RnnlabError(f"{path} is empty (0 bytes): the study is lost; {recovery(path)}")
    with open(path, "rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise RnnlabError(f"{path} is not an SQLite database (damaged); {recovery(path)}")
    names = _study_names(path)
    if study_name not in names:
        found = f"only {', '.join(sorted(names))}" if names else "none"
        raise RnnlabError(
            f"{path} holds no study named {study_name!r} ({found}): not this search's "
            f"study; {recovery(path)}"
        )


def _study_names(path: Path) -> set[str]:
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            verdict = [row[0] for row in con.execute("PRAGMA quick_check")]
            if verdict != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(map(str, verdict[:2])))
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            if "studies" not in tables or "trials" not in tables:
                return set()
            return {row[0] for row in con.execute("SELECT study_name FROM studies")}
        finally:
            con.close()
    except sqlite3.Error as err:
        raise RnnlabError(f"{path} is damaged (sqlite: {err}); {recovery(path)}") from None


def check_agrees(path: Path, trials: list, statuses: dict) -> None:
    """Every run folder that finished (or was pruned) is a trial of that number the study
    holds as complete (pruned); `statuses`: {folder name: its summary's status}."""
    held = {f"trial-{t.number:03d}": t.state.name for t in trials if not t.user_attrs.get("redone")}
    for name, status in sorted(statuses.items()):
        want = DONE.get(status)
        if want and held.get(name) not in (*want, "RUNNING"):  # running: told on resume
            says = held.get(name, "no such trial")
            raise RnnlabError(
                f"{path} disagrees with the run folders: {name} is {status} but the study "
                f"says {says}; {recovery(path)}"
            )


def back_up(*paths: Path) -> None:
    """Copy each file that exists to <name>.bak (whole, through a temporary file) before a
    resume writes to it."""
    for path in paths:
        if Path(path).is_file():
            backup = backup_path(Path(path))
            tmp = backup.with_name(f".{backup.name}.tmp")
            shutil.copyfile(path, tmp)
            tmp.replace(backup)
