"""`rnnlab train --resume RUN_DIR [KEY=VALUE ...]`: go on from a run folder's last.pt.

The run continues in the same folder, appending to its metrics, exactly as if it had not
stopped (on CPU: the same losses and weights bit for bit; `rnnlab.training.checkpoint` says what
last.pt holds for that). Overrides may raise `train.epochs` to extend a finished or
interrupted run, and change what only affects output (`RESUMABLE`); anything else would
make a different run, so it is refused.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from shlex import quote

import torch

from rnnlab.config import Config, config_from_dict, config_to_dict, dump_config, load_config
from rnnlab.config.load import flatten_dotted
from rnnlab.config.techniques import parse_duration
from rnnlab.device import pick_device, set_deterministic, set_threads
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.integrity import (
    RESUMABLE,
    check_artifacts,
    config_differences,
    read_artifacts,
    saved_artifacts,
)
from rnnlab.runs.lock import locked
from rnnlab.runs.progress import Reporter
from rnnlab.tasks import build_task, check_config, task_of
from rnnlab.tasks.ckptsize import bound_checkpoint
from rnnlab.training.checkpoint import FORMAT, restore
from rnnlab.training.interrupt import Interrupted
from rnnlab.training.session import build_session, run_to_end


def resume(run_dir: Path, overrides: list[str], reporter: Reporter) -> Run:
    """Continue the run in `run_dir` from checkpoints/last.pt; return the run. Holds the
    run folder's lock throughout: a run still being written is refused in one line."""
    run = Run.open(run_dir)
    with locked(run.dir):
        try:
            return _resume(run, run_dir, overrides, reporter)
        except Interrupted as err:
            if err.run_dir is not None:
                raise
            raise Interrupted(err.signum, run.dir, "before training resumed") from None


def _resume(run: Run, run_dir: Path, overrides: list[str], reporter: Reporter) -> Run:
    if not run.checkpoint_path("last").is_file():
        raise RnnlabError(
            f"cannot resume {run_dir}: it has no checkpoints/last.pt (it stopped before its "
            f"first checkpoint); start it again with rnnlab train {run.config_path}"
        )
    saved = load_config(run.config_path)
    cfg = check_config(load_config(run.config_path, overrides))
    check_changes(saved, cfg)
    threads_line = set_threads(cfg.threads)  # the numbers do not depend on it (docs/performance.md)
    device = pick_device(cfg.device)
    set_deterministic(cfg.train.deterministic)
    bound_checkpoint(run, "last", cfg, task_of(cfg))  # its size, before it is loaded
    ckpt = run.load_checkpoint("last", map_location=device)
    check_payload(run, ckpt)
    check_trained_config(run, ckpt, saved)
    for name in check_artifacts(run, ckpt, "last", restore=True):  # deleted: written back
        reporter.message(f"restored {name} from last.pt")
    summary = run.read_summary()
    check_resumable(run, ckpt, cfg, summary.get("status"))
    check_limit_raised(run, summary, saved, cfg)
    torch.manual_seed(cfg.seed)
    task = build_task(cfg, device)
    check_data(run, ckpt, task)
    session = build_session(cfg, task, device, reporter, run)
    if device.type == "cpu":
        reporter.message(threads_line)  # after the device line: why that many threads
    try:
        state = restore(ckpt, task, session.model, session.optimizer)
    except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as err:
        detail = " ".join(str(err).split())[:160]
        raise RnnlabError(
            f"{run.checkpoint_path('last')} does not fit this run ({detail})"
        ) from None
    session.precision.load_state_dict(ckpt.get("precision") or {})  # the GradScaler's scale
    write_atomic(run.config_path, dump_config(cfg))
    reporter.message(f"resuming {run.dir} after step {state.step} (epoch {state.epoch + 1})")
    wall_before = summary.get("wall_s") or 0.0
    return run_to_end(session, reporter, state, wall_before)


# what resume reads from last.pt, and its type (a crafted or older file: one line, no traceback)
PAYLOAD = {"format": str, "model": dict, "optimizer": dict, "epoch": int, "step": int,
           "batch": int, "skipped": int, "rows": list, "rng": dict, "window": dict}  # fmt: skip


def check_payload(run: Run, ckpt: dict) -> None:
    for key, kind in PAYLOAD.items():
        value = ckpt.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            got = "nothing" if key not in ckpt else type(value).__name__
            raise RnnlabError(
                f"cannot resume {run.dir}: its last.pt has no valid '{key}' ({kind.__name__} "
                f"expected, got {got}): it was not written by this rnnlab, or was edited"
            )


def check_trained_config(run: Run, ckpt: dict, saved: Config) -> None:
    """config.yaml must still be the config last.pt was trained with (but for RESUMABLE)."""
    try:
        trained = config_from_dict(ckpt["config"])
    except (RnnlabError, KeyError, TypeError, AttributeError):
        return  # a config of an older schema: nothing to compare it with
    flat = [flatten_dotted(config_to_dict(c)) for c in (trained, saved)]
    differs = config_differences(flat[0], flat[1], allowed=RESUMABLE)
    if differs:
        raise RnnlabError(
            f"{run.config_path} is not the config last.pt was trained with ("
            f"{'; '.join(differs[:3])}): put the trained values back (to change "
            f"{', '.join(RESUMABLE)}, give KEY=VALUE after --resume)"
        )


def check_data(run: Run, ckpt: dict, task) -> None:
    """The data, read again, must give the vocabulary (and labels) last.pt was trained with."""
    saved = saved_artifacts(ckpt)
    if not saved:
        return
    with tempfile.TemporaryDirectory() as tmp:
        task.save_artifacts(Run(Path(tmp)))
        now = read_artifacts(Run(Path(tmp)))
    changed = [name for name in saved if name in now and now[name] != saved[name]]
    if changed:
        raise RnnlabError(
            f"the data now gives a different {changed[0]} than the one {run.dir} was trained "
            f"with: the data file changed since; restore it, or start a new run"
        )


def check_changes(saved: Config, cfg: Config) -> None:
    """Refuse overrides that would change the run (anything outside RESUMABLE)."""
    before, after = flatten_dotted(config_to_dict(saved)), flatten_dotted(config_to_dict(cfg))
    changed = [k for k in after if after[k] != before.get(k) and k not in RESUMABLE]
    if changed:
        shown = ", ".join(f"{k}={after[k]!r}" for k in changed)
        raise RnnlabError(
            f"--resume cannot change {shown}: it would no longer be the same run; only "
            f"{', '.join(RESUMABLE)} may change (start a new run for the rest)"
        )


def check_limit_raised(run: Run, summary: dict, saved: Config, cfg: Config) -> None:
    """A run a callback ended (time limit, early stop) goes on only once its limit is
    raised or removed; otherwise it would stop again after one step."""
    reason = summary.get("stop_reason") or ""
    key = next((k for k in ("time_limit", "early_stop") if reason.startswith(k + ":")), None)
    if summary.get("status") != "finished" or key is None:
        return
    before, after = getattr(saved.train, key), getattr(cfg.train, key)
    if key == "time_limit" and None not in (before, after):
        before, after = (parse_duration(v, "train.time_limit") for v in (before, after))
    if after is not None and before is not None and after <= before:
        raise RnnlabError(
            f"{run.dir} stopped at its train.{key} ({reason}); to train on, raise or clear "
            f"it, e.g. rnnlab train --resume {quote(str(run.dir))} train.{key}=null"
        )


def check_resumable(run: Run, ckpt: dict, cfg: Config, status: str | None) -> None:
    if ckpt.get("format") != FORMAT:
        raise RnnlabError(
            f"cannot resume {run.dir}: its last.pt ({ckpt.get('format', 'no format')}) was "
            f"written by an rnnlab that could not resume runs"
        )
    epoch, batch, wanted = ckpt["epoch"], ckpt["batch"], cfg.train.epochs
    started = epoch + (1 if batch else 0)  # epochs finished or begun
    if status == "finished" and wanted <= epoch:
        raise RnnlabError(
            f"{run.dir} already finished its {epoch} epochs; to train on, raise train.epochs, "
            f"e.g. rnnlab train --resume {quote(str(run.dir))} train.epochs={epoch + epoch}"
        )
    if wanted < started:
        raise RnnlabError(
            f"train.epochs={wanted} is fewer than the {started} epochs {run.dir} has begun"
        )
