"""What `rnnlab inspect` looks at: a run's model (trained, and fresh from its config) and
the inputs, checked before anything is written.

Inputs: `--text` (a language model's text, or a text classifier's review), `--seq`
(DigitSum digits), or `--split` (default valid: the held-out data, read again through the
run's dataset and config, whose vocabulary must still be the run's own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnnlab.config import Config
from rnnlab.config.techniques import ADAPTIVE_NOT_PROBED
from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.inference.predict import load_model, task_with_vocab
from rnnlab.models import LanguageModel
from rnnlab.runs import Run
from rnnlab.tasks import LanguageModelTask, task_of
from rnnlab.tasks.generate import split_prefix
from rnnlab.tasks.heldout import classifier_batch, grad_flow_batch, lm_windows, split_data

GATE_BATCH = 256  # classifiers: held-out sequences the gate statistics are taken over


@dataclass
class Subject:
    """One run to inspect, on one device."""

    run: Run
    cfg: Config  # the run's
    vocab: Vocab
    kind: str  # "lm" or "classifier"
    trained: nn.Module  # the checkpoint's weights, eval mode
    fresh: nn.Module  # the run's config at initialisation (seeded with its seed)
    batch: tuple  # the gradient-flow batch: (tokens (B, T), targets)
    text: torch.Tensor  # language models: 1-d ids of the inspected text; classifiers: (B, T)

    @property
    def name(self) -> str:
        return self.run.dir.name


def open_subject(run_dir, checkpoint: str, given: dict, device, need_text: bool) -> Subject:
    """Load a run and its inputs (`given`: at most one of --text, --seq, --split); any
    problem is an RnnlabError before a file is written. `need_text=False` skips what only
    the gates and units need (`--grad-flow`)."""
    run = Run.open(run_dir)
    from rnnlab.config import load_config

    cfg = load_config(run.config_path)
    if cfg.model.softmax != "full":
        raise RnnlabError(ADAPTIVE_NOT_PROBED.format(what="rnnlab inspect"))
    task = task_of(cfg)
    kind = "lm" if issubclass(task, LanguageModelTask) else "classifier"
    check_option_fits(run, cfg, task.predict_option, given)
    cfg, task, artifacts, trained = load_model(run, checkpoint, device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # the same first draw as `rnnlab train` makes
        fresh = task.model_for(cfg, artifacts).to(device).eval()  # as training builds it
    vocab = artifacts.vocab
    if "--split" in given:
        batch, text = split_inputs(cfg, vocab, given["--split"], device, need_text)
    else:
        batch, text = given_inputs(cfg, task, artifacts, trained, given, device)
    return Subject(run, cfg, vocab, kind, trained, fresh, batch, text)


def check_option_fits(run: Run, cfg, predict_option: str, given: dict) -> None:
    """--text on a language model or text classifier, --seq on DigitSum."""
    for option in ("--text", "--seq"):
        if option not in given:
            continue
        fits = predict_option == option or (option == "--text" and predict_option == "--prefix")
        if not fits:
            use = "--text" if predict_option == "--prefix" else predict_option
            raise RnnlabError(
                f"{option} does not apply to {run.dir} ({cfg.data.dataset}): use {use}"
            )


def given_inputs(cfg, task, artifacts, trained: nn.Module, given: dict, device):
    """The batch and text of `--text` or `--seq`: one sequence."""
    option, value = next(iter(given.items()))
    vocab = artifacts.vocab
    if isinstance(trained, LanguageModel):
        tokens = split_prefix(value, cfg.data.token)
        unknown = vocab.unknown(tokens)
        if unknown:
            shown = ", ".join(repr(t) for t in unknown[:5])
            raise RnnlabError(f"--text has {cfg.data.token}s the model never saw: {shown}")
        if len(tokens) < 2:
            raise RnnlabError("--text needs at least two tokens (an input and its next token)")
        ids = torch.as_tensor(vocab.encode(np.array(tokens)), device=device)  # (N,)
        return lm_windows(ids, len(ids) - 1, 1), ids
    tokens = task.read_input(cfg, artifacts, value)  # as `rnnlab predict` reads it
    if not tokens:
        raise RnnlabError("the input is empty: give at least one token")
    if option == "--seq" and cfg.data.length and len(tokens) != cfg.data.length:
        raise RnnlabError(
            f"--seq has {len(tokens)} digits; this model reads sequences of {cfg.data.length}"
        )
    ids = torch.as_tensor(vocab.encode(np.array(tokens)), device=device).view(1, -1)  # (1, T)
    with torch.no_grad():
        label = trained(ids, torch.tensor([ids.shape[1]], device=device)).argmax(-1)  # (1,)
    return (ids, label), ids  # the loss of the model's own prediction


def split_inputs(cfg, vocab: Vocab, split: str, device, need_text: bool):
    """The gradient-flow batch and the text of a data split, read through the run's config."""
    task = task_with_vocab(cfg, vocab, device, "use --text or --seq instead of --split")
    batch = grad_flow_batch(task, split)
    data = split_data(task, split)
    if not need_text:
        return batch, None
    if isinstance(data, torch.Tensor):
        return batch, data
    return batch, classifier_batch(data, device, GATE_BATCH)[0]
