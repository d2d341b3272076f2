"""A name -> class registry, AllenNLP style: `@DATASETS.register("timemachine")`.

Each base class keeps its registry beside it; a lookup of an unknown name fails with the
list of known names and the nearest one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Generic, TypeVar

from rnnlab.errors import RnnlabError

T = TypeVar("T")


def suggest(name: str, candidates: list[str]) -> str:
    """' (did you mean 'x'?)' for the candidate nearest to `name`, or ''. Of equally near
    candidates, one with the same letters (a transposition: 'gur' -> 'gru') wins."""

    def nearness(candidate: str):
        ratio = difflib.SequenceMatcher(None, candidate, name).ratio()
        return ratio, sorted(candidate) == sorted(name), candidate

    close = [c for c in candidates if nearness(c)[0] >= 0.5]
    return f"; did you mean '{max(close, key=nearness)}'?" if close else ""


class Registry(Generic[T]):
    """Named entries of one kind (datasets, cell implementations, ...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def remove(self, name: str) -> None:
        """Forget an entry (a plug-in's, when its module is unloaded)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        if name not in self._entries:
            known = ", ".join(self.names())
            raise RnnlabError(
                f"unknown {self.kind} '{name}'{suggest(name, self.names())} (known: {known})"
            )
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
