"""A token vocabulary as in d2l: `<unk>` first, then reserved tokens, then tokens by
descending frequency (ties in order of first appearance). Built and applied with NumPy,
saved as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError

UNK = "<unk>"


class Vocab:
    def __init__(self, idx_to_token: list[str]):
        self.idx_to_token = list(idx_to_token)
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}
        order = np.argsort(np.array(self.idx_to_token))
        self._sorted = np.array(self.idx_to_token)[order]  # tokens sorted, for searchsorted
        self._sorted_ids = order

    @classmethod
    def build(cls, tokens: np.ndarray, min_freq: int = 0, reserved: Sequence[str] = ()) -> Vocab:
        """The vocabulary of a token array (numpy strings), without Python loops over it."""
        uniq, first, counts = np.unique(tokens, return_index=True, return_counts=True)
        return cls.from_counts([str(t) for t in uniq], counts, first, min_freq, reserved)

    @classmethod
    def from_counts(
        cls, names: list[str], counts, firsts, min_freq: int = 0, reserved: Sequence[str] = ()
    ) -> Vocab:
        """The vocabulary of distinct tokens `names` with their counts and first positions:
        by count descending, then first appearance; rarer than `min_freq` left out."""
        order = np.lexsort((np.asarray(firsts), -np.asarray(counts)))
        kept = order[np.asarray(counts)[order] >= max(min_freq, 1)]
        head = [UNK] + [t for t in reserved if t != UNK]
        return cls(head + [t for t in (names[i] for i in kept) if t not in head])

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def encode(self, tokens: np.ndarray) -> np.ndarray:
        """Token ids (int64), `<unk>`'s id 0 for tokens outside the vocabulary."""
        tokens = np.asarray(tokens)
        if tokens.size == 0:
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(self._sorted, tokens).clip(max=len(self._sorted) - 1)
        found = self._sorted[pos] == tokens
        return np.where(found, self._sorted_ids[pos], 0).astype(np.int64)

    def decode(self, ids) -> list[str]:
        return [self.idx_to_token[int(i)] for i in ids]

    def unknown(self, tokens) -> list[str]:
        """The distinct tokens not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self.token_to_idx))

    def save(self, path: Path) -> None:
        from rnnlab.runs.fileio import write_atomic

        write_atomic(path, json.dumps({"idx_to_token": self.idx_to_token}, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> Vocab:
        try:
            tokens = json.loads(Path(path).read_text(encoding="utf-8"))["idx_to_token"]
        except FileNotFoundError:
            raise RnnlabError(f"vocabulary not found: {path}") from None
        except (ValueError, KeyError, TypeError):
            raise RnnlabError(
                f"{path} is not an rnnlab vocabulary (JSON with idx_to_token)"
            ) from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise RnnlabError(f"{path}: idx_to_token must be a list of strings")
        if not tokens or len(set(tokens)) != len(tokens):
            what = "is empty" if not tokens else "has a token twice"
            raise RnnlabError(f"{path}: idx_to_token {what}: not a vocabulary rnnlab wrote")
        return cls(tokens)
