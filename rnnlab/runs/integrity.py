"""A run folder that changed under rnnlab: what its checkpoint was trained with, against
what the folder says now.

Every checkpoint carries its config (`config`) and, from the `fingerprint` callback, the
exact text of the run's artifacts (`vocab.json`, `labels.json`) and their sha256. `resume`
and `predict` compare them with the folder before using it, and say in one line what
differs; a missing artifact is written back from the checkpoint by the writer (`train
--resume`), never by a reader."""

from __future__ import annotations

import hashlib
from shlex import quote

from rnnlab.errors import RnnlabError
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.run import Run

FINGERPRINT = "fingerprint"  # the callback's name, its state's key in checkpoints
ARTIFACTS = ("vocab.json", "labels.json")
# config keys that may change over a run's life (overrides on --resume): the length of
# training, the device, the samples; every other key is what the weights were trained with
RESUMABLE = (
    "train.epochs",
    "train.time_limit",
    "train.early_stop",
    "device",
    "threads",
    "train.sample_every",
    "train.sample_len",
    "train.prefixes",
    "train.checkpoint_every",
    "train.tensorboard",
    "train.log_every_steps",
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_artifacts(run: Run) -> dict[str, str]:
    """{file name: text} of the run's artifacts that exist."""
    found = {}
    for name in ARTIFACTS:
        path = run.dir / name
        if path.is_file():
            found[name] = path.read_text(encoding="utf-8", errors="replace")
    return found


def saved_artifacts(ckpt: dict) -> dict[str, str]:
    """The artifacts a checkpoint was trained with ({} for checkpoints from before)."""
    state = (ckpt.get("callbacks") or {}).get(FINGERPRINT) or {}
    artifacts = state.get("artifacts") if isinstance(state, dict) else None
    if not isinstance(artifacts, dict):
        return {}
    return {k: v for k, v in artifacts.items() if k in ARTIFACTS and isinstance(v, str)}


def check_artifacts(run: Run, ckpt: dict, which: str, restore: bool) -> list[str]:
    """RnnlabError when an artifact differs from the one `ckpt` was trained with; a missing
    one is written back when `restore` (the names restored), else RnnlabError."""
    restored = []
    now = read_artifacts(run)
    for name, text in saved_artifacts(ckpt).items():
        if name not in now:
            if not restore:
                raise RnnlabError(
                    f"{run.dir / name} is missing; {which}.pt holds it: restore it with "
                    f"rnnlab train --resume {quote(str(run.dir))}"
                )
            write_atomic(run.dir / name, text)
            restored.append(name)
        elif sha256(now[name]) != sha256(text):
            raise RnnlabError(
                f"{run.dir / name} is not the one {which}.pt was trained with (edited or "
                f"copied from another run?); delete it and rnnlab train --resume {quote(str(run.dir))} "
                f"writes the right one back"
            )
    return restored


def check_run_files(run: Run, ckpt: dict, which: str, allowed: tuple[str, ...] = ()) -> None:
    """For readers (predict): config.yaml and the artifacts must be those `ckpt` was
    trained with (but for the `allowed` keys); one line naming what differs."""
    from rnnlab.config import config_from_dict, config_to_dict, load_config
    from rnnlab.config.load import flatten_dotted

    try:
        trained = flatten_dotted(config_to_dict(config_from_dict(ckpt["config"])))
    except (RnnlabError, KeyError, TypeError, AttributeError):
        trained = None  # an older schema: nothing to compare with
    if trained is not None:
        now = flatten_dotted(config_to_dict(load_config(run.config_path)))
        differs = config_differences(trained, now, allowed)
        if differs:
            raise RnnlabError(
                f"{run.config_path} is not the config {which}.pt was trained with "
                f"({'; '.join(differs[:3])}): put the trained values back"
            )
    check_artifacts(run, ckpt, which, restore=False)


def config_differences(saved: dict, now: dict, allowed: tuple[str, ...] = ()) -> list[str]:
    """'key: A in the checkpoint, B now' for each flat dotted key that differs, except
    `allowed` ones."""
    keys = [k for k in dict.fromkeys([*saved, *now]) if k not in allowed]
    return [f"{k}: {saved.get(k)!r} in the checkpoint, {now.get(k)!r} now"
            for k in keys if saved.get(k) != now.get(k)]  # fmt: skip
