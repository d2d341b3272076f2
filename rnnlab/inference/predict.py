"""Rebuild a trained model from its run folder (config, vocab, checkpoint) and use it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from rnnlab.config import load_config
from rnnlab.data import DATASETS
from rnnlab.data.textcls import tokenize
from rnnlab.data.vocab import Vocab
from rnnlab.device import flush_denormals
from rnnlab.errors import RnnlabError
from rnnlab.models import LanguageModel, SequenceClassifier
from rnnlab.runs import Run
from rnnlab.runs.integrity import RESUMABLE, check_run_files
from rnnlab.tasks.generate import check_prefix, generate, join_tokens


def load_model(run: Run, which: str, device: torch.device, classes: list[str] | None = None):
    """(config, vocab, model in eval mode) from a run folder, never from the raw data: a
    language model, or a classifier over `classes`."""
    cfg = load_config(run.config_path)
    checkpoint = run.load_checkpoint(which)
    check_run_files(run, checkpoint, which, RESUMABLE)  # as trained? (runs/integrity.py)
    vocab = Vocab.load(run.vocab_path)
    if classes is None:
        model = LanguageModel(len(vocab), cfg.model)
    else:
        model = SequenceClassifier(len(vocab), len(classes), cfg.model)
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, KeyError, TypeError) as err:
        detail = " ".join(str(err).split())[:200]
        raise RnnlabError(
            f"{run.checkpoint_path(which)} does not match the run's config.yaml and vocab.json "
            f"({detail})"
        ) from None
    return cfg, vocab, model.to(device).eval()


def continue_text(
    run_dir: Path,
    prefix: str,
    num_tokens: int,
    which: str = "best",
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int = 0,
) -> str:
    """The prefix followed by `num_tokens` generated tokens."""
    device = torch.device("cpu")
    cfg, vocab, model = load_model(Run.open(run_dir), which, device)
    tokens = check_prefix(prefix, vocab, cfg.data.token)
    generator = torch.Generator().manual_seed(seed)
    out = generate(model, vocab, tokens, num_tokens, temperature, top_k, generator)
    return join_tokens(tokens + out, cfg.data.token)


def load_classes(run: Run) -> list[str]:
    try:
        classes = json.loads(run.labels_path.read_text(encoding="utf-8"))["classes"]
    except FileNotFoundError:
        raise RnnlabError(f"{run.labels_path} not found: is {run.dir} a classifier run?") from None
    except (ValueError, KeyError, TypeError):
        raise RnnlabError(f"{run.labels_path} is not an rnnlab labels file") from None
    return [str(c) for c in classes]


def input_tokens(cfg, given: str) -> list[str]:
    """The tokens of `--seq` (digits separated by spaces) or `--text` (tokenised as the
    training texts were), cut to data.max_len."""
    if DATASETS.get(cfg.data.dataset).predict_option == "--seq":
        tokens = given.split()
        wrong = [t for t in tokens if t not in "0123456789" or len(t) != 1]
        if wrong:
            raise RnnlabError(f"--seq takes digits 0-9 separated by spaces, got {wrong[0]!r}")
    else:
        tokens = tokenize([given])[0]
    if not tokens:
        raise RnnlabError("the input is empty: give at least one token to classify")
    return tokens[: cfg.data.max_len] if cfg.data.max_len else tokens


@torch.no_grad()
def classify(run_dir: Path, given: str, which: str = "best") -> tuple[str, float]:
    """(predicted label, its probability) for one text or digit sequence."""
    device = torch.device("cpu")
    run = Run.open(run_dir)
    classes = load_classes(run)
    cfg, vocab, model = load_model(run, which, device, classes)
    ids = vocab.encode(np.array(input_tokens(cfg, given)))  # (T,)
    tokens = torch.as_tensor(ids).view(1, -1)  # (1, T)
    with flush_denormals(device):
        probs = torch.softmax(model(tokens, torch.tensor([len(ids)])), -1)[0]  # (C,)
    best = int(probs.argmax())
    return classes[best], float(probs[best])
