"""Bounds on what a config may cost before rnnlab reads it: its size in bytes, the depth
of its nesting and the number of values it expands to (YAML anchors and aliases can make
a 2 KB file stand for billions of values: the "billion laughs"). Checked while parsing and
right after, before anything walks the tree, so a hostile file is one line, not a
RecursionError or gigabytes of memory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from rnnlab.errors import RnnlabError

MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; 1 MiB is generous
MAX_DEPTH = 50  # the schema nests 3 deep (sweep.grid lists: 4)
MAX_VALUES = 100_000  # values after alias expansion (a grid of 1,000 points uses ~1,000)


class BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses nesting deeper than MAX_DEPTH while composing (the
    composer is recursive: a 10,000-deep list would end in RecursionError)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise RnnlabError(f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str, where: str) -> Any:
    """`yaml.safe_load(text)`, bounded in depth and in expanded size (RnnlabError naming
    `where`); a YAML syntax error still raises yaml.YAMLError."""
    try:
        data = yaml.load(text, Loader=BoundedLoader)
    except RnnlabError as err:
        raise RnnlabError(f"{where}: {err}") from None
    check_expansion(data, where)
    return data


def check_expansion(data: Any, where: str) -> None:
    """Walk the tree as code that reads it would (aliases expanded), without recursion,
    stopping at MAX_VALUES values or MAX_DEPTH levels."""
    stack, seen = [(data, 1)], 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise RnnlabError(
                f"{where} expands to more than {MAX_VALUES:,} values (YAML aliases that "
                f"repeat anchors?): a config is a few dozen"
            )
        if depth > MAX_DEPTH:
            raise RnnlabError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            stack.extend((k, depth + 1) for k in node.keys())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def nearest_config(path: Path) -> str:
    """ "; did you mean 'configs/gru_timemachine.yaml'?" for a config path that is not there:
    the YAML file with the nearest name in its folder, else in configs/."""
    import difflib

    for folder in dict.fromkeys([Path(path).parent, Path("configs")]):
        try:
            files = {p.name: p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")}
        except OSError:
            continue
        near = difflib.get_close_matches(Path(path).name, list(files), n=1, cutoff=0.6)
        if near:
            return f"; did you mean '{files[near[0]]}'?"
    return ""


def read_config_text(path: Path) -> str:
    """The text of a config file: a regular file of at most MAX_CONFIG_BYTES, UTF-8
    (UnicodeDecodeError is the caller's to report)."""
    try:
        st = os.stat(path)
    except OSError:
        raise RnnlabError(f"config file not found: {path}{nearest_config(path)}") from None
    import stat

    if stat.S_ISDIR(st.st_mode):
        raise RnnlabError(f"config file not found: {path} is a folder")
    if not stat.S_ISREG(st.st_mode):
        raise RnnlabError(f"{path} is not a regular file (a device or a pipe?): give a YAML file")
    if st.st_size > MAX_CONFIG_BYTES:
        raise RnnlabError(
            f"{path} is {st.st_size:,} bytes: a config is at most {MAX_CONFIG_BYTES:,} bytes"
        )
    with open(path, "rb") as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:  # grew since stat
        raise RnnlabError(f"{path}: a config is at most {MAX_CONFIG_BYTES:,} bytes")
    return raw.decode("utf-8")
