"""Text from a language model: warm the state up on a prefix, then one token at a time."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import torch

from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError


def split_prefix(prefix: str, token: str) -> list[str]:
    return list(prefix) if token == "char" else prefix.split()


def join_tokens(tokens: list[str], token: str) -> str:
    """Text from tokens: characters as they are, words joined by spaces; a newline token
    (`data.newlines: keep`) breaks the line instead of standing between spaces."""
    if token == "char":
        return "".join(tokens)
    return re.sub(" ?\n ?", "\n", " ".join(tokens))


def check_prefix(prefix: str, vocab: Vocab, token: str) -> list[str]:
    """The prefix's tokens; RnnlabError naming any the vocabulary does not have."""
    tokens = split_prefix(prefix, token)
    if not tokens:
        raise RnnlabError("the prefix is empty: give at least one token to start from")
    unknown = vocab.unknown(tokens)
    if unknown:
        shown = ", ".join(repr(t) for t in unknown)
        hint = ""
        if not vocab.unknown(split_prefix(prefix.lower(), token)):
            hint = " (this vocabulary is lowercase: try the prefix in lowercase)"
        raise RnnlabError(f"the prefix has {token}s not in the vocabulary: {shown}{hint}")
    return tokens


CHUNK = 256  # tokens per piece that `generate_chunks` hands out


def generate(
    model, vocab: Vocab, prefix: list[str], num_tokens: int, *options, **keywords
) -> list[str]:
    """`num_tokens` tokens after `prefix`, in one list: `generate_chunks`' pieces joined (the
    same options: temperature, top_k, generator, stop_at)."""
    chunks = generate_chunks(model, vocab, prefix, num_tokens, *options, **keywords)
    return [token for chunk in chunks for token in chunk]


@torch.no_grad()
def generate_chunks(
    model,
    vocab: Vocab,
    prefix: list[str],
    num_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    stop_at: str | None = None,
) -> Iterator[list[str]]:
    """`num_tokens` tokens after `prefix`, in lists of at most CHUNK handed out while
    generating: greedy when temperature is 0, else sampled; ending before the first `stop_at`
    token (e.g. "<eos>") when one is given. Constant memory whatever `num_tokens` is
    (`rnnlab predict --num-chars` prints them as they come)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    ids = torch.as_tensor(vocab.encode(np.asarray(prefix)), device=device).view(1, -1)  # (1, P)
    logits, state = model(ids, None)  # (P, 1, V): the prefix warms the state up
    stop_id = vocab.token_to_idx[stop_at] if stop_at is not None else None
    picked: list[int] = []
    for _ in range(num_tokens):
        next_id = pick(logits[-1, 0], temperature, top_k, generator)  # (1,)
        if stop_id is not None and int(next_id) == stop_id:
            break
        picked.append(int(next_id))
        if len(picked) == CHUNK:
            yield vocab.decode(picked)
            picked = []
        logits, state = model(next_id.view(1, 1), state)  # (1, 1, V)
    model.train(was_training)
    if picked:
        yield vocab.decode(picked)


def pick(logits: torch.Tensor, temperature: float, top_k: int | None, generator) -> torch.Tensor:
    """One token id from logits (V,): argmax, or a draw from softmax(logits / temperature)."""
    if temperature == 0:
        return logits.argmax().view(1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1).cpu()
    return torch.multinomial(probs, 1, generator=generator).to(logits.device)
