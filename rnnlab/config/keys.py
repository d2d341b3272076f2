"""Every config key with its type, default, range and one-line meaning, read from the
schema itself: the dataclasses of `schema.py` give names, types, defaults and ranges; the
comment beside each field (or the comment lines just above it) gives its meaning.

`rnnlab config keys` prints these rows, and README's key table is `--markdown` of them
(tests/test_tools_config.py checks that the two agree), so the docs cannot drift from
the schema.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import json
import tokenize
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Union

from rnnlab.config import schema
from rnnlab.config.schema import Config

RANGE_SYMBOLS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


@dataclass(frozen=True)
class Key:
    """One config key: `data.batch_size`, `int`, `32`, `> 0`, `sequences per minibatch`."""

    key: str
    type: str
    default: str
    range: str
    meaning: str


def config_keys() -> list[Key]:
    """Every key of `Config`, section by section, in the schema's order."""
    comments = field_comments()
    return list(_keys(Config, "", comments))


def _keys(cls: type, prefix: str, comments: dict) -> Iterator[Key]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            yield from _keys(hint, f"{prefix}{f.name}.", comments)
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        else:
            assert f.default_factory is not dataclasses.MISSING  # every schema field has one
            default = f.default_factory()
        yield Key(
            key=prefix + f.name,
            type=" | ".join(f.metadata["names"]()) if "names" in f.metadata else type_name(hint),
            default=json.dumps(default, ensure_ascii=False),
            range=", ".join(
                f"{RANGE_SYMBOLS[k]} {_bound(v)}"
                for k, v in f.metadata.items()
                if k in RANGE_SYMBOLS
            ),
            meaning=comments.get((cls.__name__, f.name), ""),
        )


def _bound(value) -> str:
    """2**63 rather than its 19 digits."""
    if isinstance(value, int) and value > 2**20 and value & (value - 1) == 0:
        return f"2**{value.bit_length() - 1}"
    return str(value)


def type_name(hint: Any) -> str:
    """`int`, `float | null`, `char | word`, `list[str]`: a type as a config author reads it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(str(a) for a in args)
    if origin is list:
        return f"list[{type_name(args[0])}]"
    if origin is dict:
        return f"map[{type_name(args[0])}, {type_name(args[1])}]"
    if hint is type(None):
        return "null"
    if hint is Any:
        return "any"
    return getattr(hint, "__name__", str(hint))


def field_comments() -> dict[tuple[str, str], str]:
    """{(class name, field name): its comment} from schema.py's source: the comment on the
    field's own lines, else the block of comment lines right above it."""
    source = inspect.getsource(schema)
    by_line: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            by_line[token.start[0]] = token.string.lstrip("#").strip()
    lines = source.splitlines()
    found: dict[tuple[str, str], str] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            last = item.end_lineno or item.lineno
            own = [by_line[n] for n in range(item.lineno, last + 1) if n in by_line]
            above: list[str] = []
            n = item.lineno - 1
            while n in by_line and lines[n - 1].lstrip().startswith("#"):
                above.insert(0, by_line[n])
                n -= 1
            found[(node.name, item.target.id)] = " ".join(own or above)
    return found


def keys_markdown(keys: list[Key]) -> str:
    """The keys as a Markdown table (README's, generated: `rnnlab config keys --markdown`)."""
    out = ["| key | type | default | range | meaning |", "| --- | --- | --- | --- | --- |"]
    for k in keys:
        cells = [f"`{k.key}`", k.type, f"`{k.default}`", k.range, k.meaning]
        cells = [c.replace("|", "\\|").replace("<", "\\<") for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
