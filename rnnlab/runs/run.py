"""The run folder and its fixed layout:

    runs/<name>-<YYYYmmdd-HHMMSS>/
        config.yaml        the resolved config (overrides applied)
        vocab.json         the vocabulary (language models and classifiers)
        labels.json        the class names (classifiers)
        metrics.csv        one row per epoch (per evaluation with train.eval_every_steps)
        grad_norms.csv     every parameter's gradient norm per step (train.log_grad_norms)
        checkpoints/       last.pt and best.pt
        plots/             PNG curves
        samples.txt        generated text, by epoch
        summary.json       final, best and test metrics, speed, device, versions, status

Every file is written atomically (`fileio.write_atomic`); a folder is never reused.
"""

from __future__ import annotations

import json
import pickle
import time
import warnings
import zipfile
from pathlib import Path

from rnnlab.errors import RnnlabError
from rnnlab.runs.fileio import check_regular, storage_error, write_atomic, write_with
from rnnlab.runs.strictjson import dumps
from rnnlab.runs.tables import read_csv, write_csv


class Run:
    def __init__(self, path: Path):
        self.dir = Path(path)
        self._warned = False  # about non-finite figures in summary.json

    @classmethod
    def create(cls, parent: Path, name: str) -> Run:
        """A new, empty run folder; a name clash gets a suffix, never an existing folder."""
        return cls(new_folder(parent, name))

    @classmethod
    def create_at(cls, path: Path) -> Run:
        """A new run folder at exactly `path` (sweeps name their runs); never an existing one."""
        make_parent(Path(path).parent)
        try:
            Path(path).mkdir()
        except FileExistsError:
            raise RnnlabError(
                f"run folder {path} already exists; it is never overwritten"
            ) from None
        except OSError as err:
            raise storage_error(err, path) or err from None
        return cls(path)

    @classmethod
    def open(cls, path: Path) -> Run:
        run = cls(path)
        if not run.dir.exists():
            raise RnnlabError(f"run folder not found: {path}")
        if not run.config_path.is_file():
            raise RnnlabError(f"{path} is not an rnnlab run folder (no config.yaml)")
        return run

    # --- the layout ---
    @property
    def config_path(self) -> Path:
        return self.dir / "config.yaml"

    @property
    def vocab_path(self) -> Path:
        return self.dir / "vocab.json"

    @property
    def labels_path(self) -> Path:
        return self.dir / "labels.json"

    @property
    def grad_norms_path(self) -> Path:
        return self.dir / "grad_norms.csv"

    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.csv"

    @property
    def samples_path(self) -> Path:
        return self.dir / "samples.txt"

    @property
    def summary_path(self) -> Path:
        return self.dir / "summary.json"

    def checkpoint_path(self, which: str) -> Path:
        return self.dir / "checkpoints" / f"{which}.pt"

    def plot_path(self, name: str) -> Path:
        return self.dir / "plots" / f"{name}.png"

    # --- writing ---
    def write_metrics(self, rows: list[dict]) -> None:
        write_csv(self.metrics_path, rows)

    def read_metrics(self) -> list[dict]:
        """metrics.csv's rows, numbers as numbers ([] before the first log point);
        validated on read: a row whose epoch or step is not a whole number is left out."""
        rows = read_csv(self.metrics_path)
        return [
            r for r in rows if all(_of_type(r.get(k), (int, type(None))) for k in ("epoch", "step"))
        ]

    def write_summary(self, summary: dict) -> None:
        found: list[str] = []  # non-finite figures: one warning per Run, not per write
        text = dumps(summary, str(self.summary_path), not self._warned, found, indent=2,
                     ensure_ascii=False)  # fmt: skip
        self._warned = self._warned or bool(found)
        write_atomic(self.summary_path, text + "\n")

    def read_summary(self) -> dict:
        """summary.json, validated on read: {} when it is missing or not a JSON object, and
        a known field of the wrong type (a hand edit) left out rather than trusted."""
        check_regular(self.summary_path, "summary.json")
        try:
            summary = json.loads(self.summary_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        if not isinstance(summary, dict):
            return {}
        return {k: v for k, v in summary.items() if _of_type(v, SUMMARY_TYPES.get(k, object))}

    def append_samples(self, text: str) -> None:
        old = self.samples_path.read_text(encoding="utf-8") if self.samples_path.exists() else ""
        write_atomic(self.samples_path, old + text)

    def save_checkpoint(self, which: str, payload: dict) -> None:
        import torch

        write_with(self.checkpoint_path(which), lambda f: torch.save(payload, f))

    def load_checkpoint(self, which: str, map_location="cpu") -> dict:
        return load_checkpoint(self.checkpoint_path(which), map_location)


# summary.json's fields and their types (runs/run.py writes them; others may be added)
SUMMARY_TYPES = {
    "name": str, "status": str, "key_metric": str, "higher_is_better": bool, "epochs": int,
    "steps": int, "final": dict, "best": dict, "test": dict, "at": dict, "wall_s": (int, float),
    "tokens_per_s": (int, float, type(None)), "parameters": int, "error": str, "reason": str,
}  # fmt: skip


def _of_type(value, kinds) -> bool:
    """isinstance, where a bool is not a number."""
    if (
        isinstance(value, bool)
        and kinds is not bool
        and not (isinstance(kinds, tuple) and bool in kinds)
    ):
        return kinds is object
    return isinstance(value, kinds)


def new_folder(parent: Path, name: str) -> Path:
    """Create and return `parent/<name>-<YYYYmmdd-HHMMSS>`, suffixed -1, -2... on a clash."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    make_parent(Path(parent))
    for attempt in range(1000):
        path = Path(parent) / (f"{name}-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as err:  # read-only, no permission, a name too long
            raise storage_error(err, path) or err from None
    raise RnnlabError(f"cannot find a free folder name under {parent}")


def make_parent(parent: Path) -> None:
    """The folder new run (or sweep) folders go in, created if missing."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = "a file is in the way" if isinstance(err, FileExistsError) else err.strerror
        raise RnnlabError(f"cannot create a run folder under {parent}: {reason}") from None


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """A checkpoint dict, loaded with weights_only=True: tensors and plain data only."""
    import torch

    if not Path(path).is_file():
        raise RnnlabError(f"no checkpoint at {path}")
    check_record_sizes(Path(path))
    try:
        with warnings.catch_warnings():  # torch's advice on legacy pickles: we refuse them
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        unsafe = [ln for ln in lines if "GLOBAL" in ln or "global" in ln]
        if not unsafe and not zipfile.is_zipfile(path) and _starts_with(path, b"\x80"):
            raise RnnlabError(
                f"{path} is a plain pickle, not a checkpoint torch.save wrote: refused"
            ) from None
        if not unsafe:  # not a pickle of ours at all: garbage bytes
            raise RnnlabError(f"{path} is truncated or not a checkpoint") from None
        raise RnnlabError(
            f"refused to load {path}: it holds more than tensors and plain data, so loading "
            f"it could run code ({unsafe[0][:120]})"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise RnnlabError(f"{path} is truncated or not a checkpoint ({_first_line(err)})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise RnnlabError(f"{path} is not an rnnlab checkpoint (no model state)")
    return payload


def check_record_sizes(path: Path) -> None:
    """Bound what loading can allocate before anything is loaded: torch.save stores its
    records uncompressed, so their sizes, read from the zip's directory, add up to less
    than the file; a checkpoint whose records declare more (compressed records, a zip
    bomb) is refused without inflating them."""
    try:
        with zipfile.ZipFile(path) as archive:
            records = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip: torch.load refuses it in one line below
    size = path.stat().st_size
    declared = sum(r.file_size for r in records)
    if declared > size or any(r.compress_type != zipfile.ZIP_STORED for r in records):
        raise RnnlabError(
            f"{path} is not a checkpoint rnnlab wrote: its records declare {declared:,} "
            f"bytes (compressed) in a {size:,}-byte file; refused before loading"
        )


def checkpoint_bytes(path: Path) -> int:
    """What loading the checkpoint reads: its records' sizes from the zip's directory
    (nothing inflated), else the file's size."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(r.file_size for r in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return Path(path).stat().st_size if Path(path).is_file() else 0


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as f:
        return f.read(len(magic)) == magic


def newest_run(parent: Path) -> Path:
    """The most recently created run folder under `parent` (for `predict` without --run)."""
    runs = [p for p in Path(parent).glob("*/config.yaml")] if Path(parent).is_dir() else []
    if not runs:
        raise RnnlabError(f"no runs under {parent}: train one first, or pass --run DIR")
    return max(runs, key=lambda p: p.stat().st_mtime).parent


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:160]
