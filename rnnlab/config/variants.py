"""Keys that a registered variant (a learning-rate schedule, a cell) declares beside its
code, checked like the schema's own: a type as in `schema.py`, a default, a range and a
meaning. A plug-in's cell or schedule declares its keys this way; their values live under
`model.options` and `optim.options` and come back with every default filled in.

    keys = {"hold_steps": Key(int, 100, "steps at the peak lr", gt=0)}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnlab.errors import RnnlabError
from rnnlab.registry import suggest


@dataclass(frozen=True)
class Key:
    """One declared key: its type hint, default, one-line meaning and range bounds."""

    type: Any  # int, float, str, bool, Optional[int], Literal["a", "b"], list[int], ...
    default: Any
    meaning: str = ""
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def bounds(self) -> dict[str, float]:
        named = {"gt": self.gt, "ge": self.ge, "lt": self.lt, "le": self.le}
        return {name: bound for name, bound in named.items() if bound is not None}


def check_options(where: str, owner: str, declared: Mapping[str, Key], given: dict) -> dict:
    """`given` (a `... .options` mapping) checked against the keys `owner` declares: every
    key known, typed and in range; the declared defaults filled in. RnnlabError naming the
    key otherwise."""
    from rnnlab.config.load import check_value  # the schema's own type and range checks

    for key in given:
        if key not in declared:
            known = ", ".join(declared) or "none"
            raise RnnlabError(
                f"unknown key '{where}.{key}' for {owner} (its keys: {known})"
                f"{suggest(str(key), list(declared))}"
            )
    return {
        name: check_value(f"{where}.{name}", given[name], k.type, k.bounds())
        if name in given
        else k.default
        for name, k in declared.items()
    }
