"""A language-model token stream without one Python object per token.

A text is kept as its UTF-8 bytes and each token as a byte span (start, length) into
them: a character is one UTF-8 sequence, a word a run of bytes between whitespace, and a
kept newline a token of its own (written `<eos>` in the vocabulary when `data.eos` asks for
an end-of-sentence token at each line end, as PTB and WikiText are counted). Counting and
encoding group the spans by length, view each group as fixed-width byte strings and call
`np.unique(..., return_inverse=True)` on it: the work per token is NumPy's, the Python
loops run over distinct lengths and distinct tokens only. Peak memory is a few bytes per
byte of text plus a few integers per token (docs/language_models.md, "Data").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .vocab import Vocab

EOS = "<eos>"
NEWLINE = 10  # b"\n"
# whitespace that str.split() splits on beyond ASCII: made a space before splitting words
OTHER_SPACES = re.compile("[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


@dataclass
class Tokens:
    """A token stream: `starts` and `lengths` (n,) index byte spans of `buf` (UTF-8)."""

    buf: np.ndarray  # (bytes,) uint8: the text
    starts: np.ndarray  # (n,) int32 (int64 past 2 GiB of text): where each token begins
    lengths: np.ndarray  # (n,) its length in bytes: uint8 for characters, else as starts
    eos: bool = False  # a newline token is named <eos>

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, part: slice) -> Tokens:
        return Tokens(self.buf, self.starts[part], self.lengths[part], self.eos)

    def strings(self) -> list[str]:
        """The tokens as Python strings (a loop per token: for tests and short texts)."""
        data = self.buf.tobytes()
        return [
            self._name(data[s : s + n]) for s, n in zip(self.starts.tolist(), self.lengths.tolist())
        ]

    def _name(self, raw: bytes) -> str:
        return EOS if self.eos and raw == b"\n" else raw.decode("utf-8")


def tokenize(text: str, token: str, keep_newlines: bool = False, eos: bool = False) -> Tokens:
    """The characters (`token="char"`) or the whitespace-separated words of `text`; with
    `keep_newlines` (or `eos`), each "\\n" is a word of its own (`<eos>` with `eos`)."""
    if token == "word" and not text.isascii():
        text = OTHER_SPACES.sub(" ", text)
    ascii_only = text.isascii()
    buf = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)  # (bytes,)
    index = np.int32 if len(buf) < 2**31 else np.int64  # half the memory of int64 spans
    if token == "char":
        starts, lengths = _char_spans(buf, index, ascii_only)
        return Tokens(buf, starts, lengths, eos)
    starts, lengths = _word_spans(buf, keep_newlines or eos)
    return Tokens(buf, starts.astype(index), lengths.astype(index), eos)


def _char_spans(buf: np.ndarray, index, ascii_only: bool, chunk: int = 1 << 24):
    """(starts (n,) `index`, lengths (n,) uint8) of the UTF-8 characters of `buf`, built
    a chunk at a time: 5 bytes per character, no int64 array of the text's size."""
    if ascii_only:  # a character per byte
        return np.arange(len(buf), dtype=index), np.ones(len(buf), dtype=np.uint8)
    lead = (buf & 0xC0) != 0x80  # (bytes,) not a UTF-8 continuation byte
    starts = np.empty(int(np.count_nonzero(lead)), dtype=index)  # (n,)
    done = 0
    for at in range(0, len(buf), chunk):
        part = np.flatnonzero(lead[at : at + chunk]) + at  # (m,)
        starts[done : done + len(part)] = part
        done += len(part)
    del lead
    lengths = np.empty(len(starts), dtype=np.uint8)  # (n,) 1 to 4 bytes
    for at in range(0, len(starts), chunk):
        following = starts[at + 1 : at + chunk + 1]
        ends = np.append(following, len(buf)) if at + chunk >= len(starts) else following
        lengths[at : at + chunk] = ends - starts[at : at + chunk]
    return starts, lengths


def _word_spans(buf: np.ndarray, keep_newlines: bool) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the words of UTF-8 bytes, a newline a word of its own when kept,
    with a handful of byte-sized masks alive at once."""
    kind = SPACE_KEEP[buf] if keep_newlines else SPACE[buf]  # (bytes,) 0 word, 1 space, 2 newline
    word = kind == 0  # (bytes,)
    start = np.empty_like(word)  # a word byte after a non-word byte
    start[:1] = word[:1]
    np.greater(word[1:], word[:-1], out=start[1:])
    end = np.empty_like(word)  # a word byte before a non-word byte
    end[-1:] = word[-1:]
    np.greater(word[:-1], word[1:], out=end[:-1])
    del word
    if keep_newlines:
        newline = kind == 2
        start |= newline
        end |= newline
        del newline
    del kind
    starts = np.flatnonzero(start)
    del start
    return starts, np.flatnonzero(end) + 1 - starts


def _byte_kinds(keep_newlines: bool) -> np.ndarray:
    """Per byte value: 0 inside a word, 1 whitespace (str.split's ASCII set), 2 newline."""
    kinds = np.zeros(256, dtype=np.int8)
    kinds[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = 1
    if keep_newlines:
        kinds[NEWLINE] = 2
    return kinds


SPACE, SPACE_KEEP = _byte_kinds(False), _byte_kinds(True)


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest integer type (that torch also has) holding ids below `vocab_size`:
    the corpus is kept in it, and each batch widened to int64 as it is used."""
    if vocab_size <= 2**8:
        return np.dtype(np.uint8)
    return np.dtype(np.int16) if vocab_size <= 2**15 else np.dtype(np.int32)


def count(tokens: Tokens) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(distinct tokens, counts, first positions, inverse): `inverse` (n,) maps each
    token to its entry of the distinct list, vectorised per token length."""
    widths = np.unique(tokens.lengths).tolist()
    n = len(tokens)
    inverse = np.empty(n if len(widths) > 1 else 0, dtype=np.int32 if n < 2**31 else np.int64)
    names: list[str] = []
    counts: list[np.ndarray] = []
    firsts: list[np.ndarray] = []
    for width in widths:  # a loop over lengths, not tokens
        whole = len(widths) == 1  # one width (ASCII characters): no index of the group
        group = None if whole else np.flatnonzero(tokens.lengths == width)  # (m,) text order
        starts = tokens.starts if group is None else tokens.starts[group]
        if width == 1:
            uniq, first, inv, cnt = _count_bytes(tokens.buf[starts])
        else:
            keys = _fixed_width(tokens.buf, starts, width)  # (m,) void
            uniq, first, inv, cnt = np.unique(
                keys, return_index=True, return_inverse=True, return_counts=True
            )
            del keys
        del starts
        if group is None:  # the only group: its inverse, in its own small type
            inverse = inv.reshape(-1)
        else:
            inverse[group] = inv.reshape(-1) + len(names)
        del inv
        names += [tokens._name(u.tobytes()) for u in uniq]
        counts.append(cnt)
        firsts.append(first if group is None else group[first])  # first appearances
    if not names:
        empty = np.zeros(0, dtype=np.int64)
        return [], empty, empty, inverse
    return names, np.concatenate(counts), np.concatenate(firsts), inverse


def _count_bytes(values: np.ndarray, chunk: int = 1 << 20):
    """np.unique(values, return_index, return_inverse, return_counts) for one-byte tokens
    (m,) uint8 without sorting: a count per byte value, first positions from the chunks
    up to the last new value, the inverse through a 256-entry table ((m,) uint8)."""
    cnt = np.zeros(256, dtype=np.int64)
    for at in range(0, len(values), chunk):  # bincount widens its input to int64: chunks
        cnt += np.bincount(values[at : at + chunk], minlength=256)
    present = np.flatnonzero(cnt)  # (k,) the distinct bytes, sorted as np.unique's
    first = np.full(256, -1, dtype=np.int64)
    for at in range(0, len(values), chunk):
        part_values, part_first = np.unique(values[at : at + chunk], return_index=True)
        new = first[part_values] < 0
        first[part_values[new]] = part_first[new] + at
        if (first[present] >= 0).all():
            break
    rank = np.zeros(256, dtype=np.uint8)
    rank[present] = np.arange(len(present))
    uniq = present.astype(np.uint8).view(np.dtype((np.void, 1)))
    return uniq, first[present], rank[values], cnt[present]


def _fixed_width(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The spans buf[s : s + width] as one fixed-width byte string each ((m,) void)."""
    out = np.empty((len(starts), width), dtype=np.uint8)  # (m, width)
    for j in range(width):  # a column per byte of the width, not a loop over tokens
        out[:, j] = buf[starts + j if j else starts]
    return out.view(np.dtype((np.void, width))).reshape(-1)


def encode(tokens: Tokens, token_to_idx: dict[str, int], unk: int = 0) -> np.ndarray:
    """Token ids (n,) under a vocabulary (`id_dtype`); `unk` for tokens outside it."""
    names, _, _, inverse = count(tokens)
    dtype = id_dtype(max(token_to_idx.values(), default=0) + 1)
    lookup = np.array([token_to_idx.get(name, unk) for name in names], dtype=dtype)
    return lookup[inverse] if len(names) else np.zeros(0, dtype=dtype)


def vocab_and_ids(tokens: Tokens, min_freq: int = 0):
    """(the vocabulary of `tokens`, their ids (n,) in `id_dtype`) from one count."""
    names, counts, firsts, inverse = count(tokens)
    vocab = Vocab.from_counts(names, counts, firsts, min_freq)
    dtype = id_dtype(len(vocab))
    lookup = np.array([vocab.token_to_idx.get(name, 0) for name in names], dtype=dtype)
    return vocab, lookup[inverse] if names else np.zeros(0, dtype=dtype)
