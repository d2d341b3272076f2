"""`rnnlab train --resume RUN_DIR [KEY=VALUE ...]`: go on from a run folder's last.pt.

The run continues in the same folder, appending to its metrics, exactly as if it had not
stopped (on CPU: the same losses and weights bit for bit; `rnnlab.training.checkpoint` says what
last.pt holds for that). Overrides may raise `train.epochs` to extend a finished or
interrupted run, and change what only affects output (`RESUMABLE`); anything else would
make a different run, so it is refused.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rnnlab.config import Config, config_to_dict, dump_config, load_config
from rnnlab.config.load import flatten_dotted
from rnnlab.data import check_config
from rnnlab.device import pick_device
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run
from rnnlab.runs.fileio import write_atomic
from rnnlab.runs.lock import locked
from rnnlab.runs.progress import Reporter
from rnnlab.tasks import build_task
from rnnlab.training.checkpoint import FORMAT, restore
from rnnlab.training.interrupt import Interrupted
from rnnlab.training.session import build_session, run_to_end

# keys an override may change on resume: the length of training, the device, the samples
RESUMABLE = ("train.epochs", "device", "train.sample_every", "train.sample_len", "train.prefixes")


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
    device = pick_device(cfg.device)
    ckpt = run.load_checkpoint("last", map_location=device)
    summary = run.read_summary()
    check_resumable(run, ckpt, cfg, summary.get("status"))
    torch.manual_seed(cfg.seed)
    task = build_task(cfg, device)
    session = build_session(cfg, task, device, reporter, run)
    state = restore(ckpt, task, session.model, session.optimizer)
    write_atomic(run.config_path, dump_config(cfg))
    reporter.message(f"resuming {run.dir} after step {state.step} (epoch {state.epoch + 1})")
    wall_before = summary.get("wall_s") or 0.0
    return run_to_end(session, reporter, state, wall_before)


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
            f"e.g. rnnlab train --resume {run.dir} train.epochs={epoch + epoch}"
        )
    if wanted < started:
        raise RnnlabError(
            f"train.epochs={wanted} is fewer than the {started} epochs {run.dir} has begun"
        )
