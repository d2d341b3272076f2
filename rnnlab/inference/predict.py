"""Rebuild a trained model from its run folder (config, artifacts, checkpoint) and use it.

The run's task (`rnnlab.tasks.task_of`: picked by the dataset's class, as in training)
says which `rnnlab predict` option feeds it, reads that input, builds the model with the
same `model_for` call as training and turns the model's output into the printed line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from rnnlab.config import load_config
from rnnlab.device import flush_denormals
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run
from rnnlab.runs.integrity import RESUMABLE, check_run_files
from rnnlab.tasks import (
    Artifacts,
    LanguageModelTask,
    Sampling,
    Task,
    build_task,
    task_of,
)
from rnnlab.tasks.ckptsize import bound_checkpoint


def check_option(run_dir: Path, option: str) -> None:
    """RnnlabError unless `option` ("--prefix", "--text", "--seq") feeds the run's task."""
    cfg = load_config(Run.open(run_dir).config_path)
    task = task_of(cfg)
    if not task.predict_option:
        raise RnnlabError(
            f"rnnlab predict has no input for {run_dir}: it is {task.describe(cfg)}; score it "
            f"with rnnlab evaluate {run_dir}"
        )
    if option != task.predict_option:
        raise RnnlabError(
            f"{option} does not apply to {run_dir}: it is {task.describe(cfg)}; "
            f"use {task.predict_option}"
        )


def load_model(run: Run, which: str, device: torch.device):
    """(config, task class, artifacts, model in eval mode) from a run folder, never from
    the raw data."""
    cfg = load_config(run.config_path)
    task: type[Task] = task_of(cfg)
    bound_checkpoint(run, which, cfg, task)
    checkpoint = run.load_checkpoint(which)
    check_run_files(run, checkpoint, which, RESUMABLE)  # as trained? (runs/integrity.py)
    artifacts: Artifacts = task.load_artifacts(run)
    model = task.model_for(cfg, artifacts)
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, KeyError, TypeError) as err:
        detail = " ".join(str(err).split())[:200]
        raise RnnlabError(
            f"{run.checkpoint_path(which)} does not match the run's config.yaml and vocab.json "
            f"({detail})"
        ) from None
    return cfg, task, artifacts, model.to(device).eval()


def task_with_vocab(cfg, vocab, device: torch.device, hint: str) -> Task:
    """The run's task over its data read again; RnnlabError (ending in `hint`) if the
    data's vocabulary is no longer the run's vocab.json."""
    task = build_task(cfg, device)
    if isinstance(task, LanguageModelTask):
        data_vocab = task.vocab
    else:  # classifiers and the memory tasks keep theirs with their data
        data_vocab = task.data.vocab  # type: ignore[attr-defined]
    if data_vocab.idx_to_token != vocab.idx_to_token:
        raise RnnlabError(
            f"the {cfg.data.dataset} data now gives a different vocabulary than the run's "
            f"vocab.json: {hint}"
        )
    return task


def predict(
    run_dir: Path, given: str, which: str = "best", sampling: Sampling | None = None
) -> Iterator[str]:
    """What `rnnlab predict` prints, in pieces as they come: a language model's
    continuation of `given`, or a classifier's label for it and the label's probability
    (tab-separated). Joined, the pieces are the whole line."""
    device = torch.device("cpu")
    cfg, task, artifacts, model = load_model(Run.open(run_dir), which, device)
    tokens = task.read_input(cfg, artifacts, given)
    with flush_denormals(device):
        yield from task.predict(cfg, artifacts, model, tokens, sampling or Sampling())
