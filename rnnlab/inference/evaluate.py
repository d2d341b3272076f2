"""`rnnlab evaluate`: score a trained run's held-out data again, from its checkpoint and
the data its config names, as training scored it (float32, every token), and for language
models with dynamic evaluation too (`dynamic_eval.py`).

The data is read through the run's config; its vocabulary must still be the run's own
vocab.json (the same check `rnnlab inspect --split` makes).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from rnnlab.device import flush_denormals, pick_device
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run
from rnnlab.tasks import LanguageModelTask
from rnnlab.tasks.heldout import lm_windows

from .dynamic_eval import DEFAULTS, STAT_BATCHES, STAT_ROWS, DynamicEval, dynamic_mean_loss
from .predict import load_model, task_with_vocab

SPLITS = ("valid", "test")


def evaluate_run(
    run_dir: Path,
    split: str = "valid",
    checkpoint: str = "best",
    dynamic: dict | None = None,
    device: str = "cpu",
) -> dict:
    """{"run", "checkpoint", "split", "static": metrics[, "dynamic": metrics]}; the
    metrics are those training reports (loss, ppl, bpc; a classifier's loss, accuracy).
    `dynamic`: None for the static figures only, else the DynamicEval fields given (the
    others default by token type, `DEFAULTS`)."""
    if split not in SPLITS:
        raise RnnlabError(f"--split must be valid or test, got {split!r}")
    dev = pick_device(device)
    run = Run.open(run_dir)
    cfg, task_cls, artifacts, model = load_model(run, checkpoint, dev)
    if dynamic is not None and not issubclass(task_cls, LanguageModelTask):
        raise RnnlabError(
            f"--dynamic adapts a language model to the text it reads; {run.dir} is "
            f"{task_cls.describe(cfg)}"
        )
    task = task_with_vocab(
        cfg, artifacts.vocab, dev, "so its ids would not mean what the model learnt"
    )
    result: dict = {"run": str(run.dir), "checkpoint": checkpoint, "split": split}
    with flush_denormals(dev):
        if not isinstance(task, LanguageModelTask):
            result["static"] = strip_prefix(classifier_metrics(task, model, split))
            result["split"] = "dev" if split == "valid" else split  # as classifiers name it
            return result
        ids = task.split_ids(split)  # (M,)
        result["predictions"] = len(ids) - 1
        result["static"] = task.held_out_metrics(task.mean_loss(model, ids), "")
        if dynamic is not None:
            result["dynamic"] = score_dynamically(task, model, ids, dynamic)
    return result


def score_dynamically(task: LanguageModelTask, model, ids: torch.Tensor, given: dict) -> dict:
    """The held-out metrics under dynamic evaluation, with its settings and seconds."""
    settings = {**DEFAULTS[task.cfg.data.token], **given}
    how = DynamicEval(**settings)
    windows = None
    if how.rule == "rms":
        windows = lm_windows(task.sampler.corpus, task.cfg.data.num_steps, STAT_BATCHES * STAT_ROWS)
    start = time.perf_counter()
    metrics = task.held_out_metrics(dynamic_mean_loss(model, ids, how, windows), "")
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    return {**metrics, **vars(how)}


def classifier_metrics(task, model, split: str) -> dict:
    return task.evaluate(model) if split == "valid" else task.test(model)


def strip_prefix(metrics: dict) -> dict:
    """{"dev_acc": ...} -> {"acc": ...}, as the split is named beside it."""
    return {k.split("_", 1)[1]: v for k, v in metrics.items()}


def describe(result: dict) -> list[str]:
    """The lines `rnnlab evaluate` prints."""
    head = f"{result['run']} {result['checkpoint']}.pt, {result['split']} split"
    if "predictions" in result:
        head += f", {result['predictions']:,} predictions"
    lines = [head, "static   " + figures(result["static"])]
    if "dynamic" in result:
        d = result["dynamic"]
        lines.append(
            f"dynamic  {figures(d)}  ({d['rule']} lr {d['lr']:g}, decay {d['decay']:g}, segments of "
            f"{d['segment']}; {d['seconds']:.0f} s)"
        )
    return lines


def figures(metrics: dict) -> str:
    shown = []
    for key in ("loss", "ppl", "bpc", "acc", "mse", "seq_acc"):
        if key in metrics and isinstance(metrics[key], float) and math.isfinite(metrics[key]):
            shown.append(f"{key} {metrics[key]:.4f}")
    return "  ".join(shown)
