"""Rebuild a trained model from its run folder (config, vocab, checkpoint) and use it."""

from __future__ import annotations

from pathlib import Path

import torch

from rnnlab.config import load_config
from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.generate import check_prefix, generate, join_tokens
from rnnlab.models import LanguageModel
from rnnlab.runs import Run


def load_model(run: Run, which: str, device: torch.device):
    """(config, vocab, model in eval mode) from a run folder, never from the raw corpus."""
    cfg = load_config(run.config_path)
    vocab = Vocab.load(run.vocab_path)
    model = LanguageModel(len(vocab), cfg.model)
    checkpoint = run.load_checkpoint(which)
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
