"""`rnnlab predict --prefix TEXT --num-chars N` as a stream: the text comes out in chunks
of CHUNK tokens while it is generated, in constant memory whatever N is (generating
everything first kept every token id, its tensor and the text until the end: ~1.2 KB per
token). Token by token the same draws as `tasks.generate.generate`, so the same text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from rnnlab.inference.predict import load_model
from rnnlab.runs import Run
from rnnlab.tasks.generate import check_prefix, join_tokens, pick

CHUNK = 256  # tokens per piece of output


@torch.no_grad()
def stream_text(
    run_dir: Path,
    prefix: str,
    num_tokens: int,
    which: str = "best",
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int = 0,
) -> Iterator[str]:
    """The prefix, then the generated text in pieces; joined, they are `continue_text`'s."""
    cfg, vocab, model = load_model(Run.open(run_dir), which, torch.device("cpu"))
    tokens = check_prefix(prefix, vocab, cfg.data.token)
    between = join_tokens(["", ""], cfg.data.token)  # "" for characters, " " for words
    generator = torch.Generator().manual_seed(seed)
    yield join_tokens(tokens, cfg.data.token)
    ids = torch.as_tensor(vocab.encode(tokens)).view(1, -1)  # (1, P)
    logits, state = model(ids, None)  # (P, 1, V): the prefix warms the state up
    picked: list[int] = []
    for i in range(num_tokens):
        next_id = pick(logits[-1, 0], temperature, top_k, generator)  # (1,)
        picked.append(int(next_id))
        logits, state = model(next_id.view(1, 1), state)  # (1, 1, V)
        if len(picked) == CHUNK or i == num_tokens - 1:
            yield between + join_tokens(vocab.decode(picked), cfg.data.token)
            picked = []
