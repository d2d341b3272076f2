"""Read a YAML config, apply `key=value` overrides, and check every key, type and range.

Everything here fails with `RnnlabError` and one line naming the key; nothing imports
torch, so a config error comes back in the time it takes to start Python.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from rnnlab.config.limits import load_yaml, read_config_text
from rnnlab.config.plugins import import_plugins
from rnnlab.config.schema import Config
from rnnlab.config.techniques import check_techniques
from rnnlab.errors import RnnlabError
from rnnlab.registry import suggest

MAX_NAME_CHARS = 100  # the run folder adds a timestamp; most file systems stop at 255 bytes
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """The checked Config of a YAML file with command-line overrides applied."""
    raw = read_yaml(Path(path))
    for key, value in parse_overrides(overrides).items():
        set_dotted(raw, key, value)
    return config_from_dict(raw)


def read_yaml(path: Path) -> dict:
    try:
        raw = load_yaml(read_config_text(path), str(path))  # bounded: config/limits.py
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise RnnlabError(f"{path}:{where}: YAML syntax error: {problem}") from None
    except UnicodeDecodeError:
        raise RnnlabError(f"{path}: config is not UTF-8 text") from None
    if raw is None:
        raise RnnlabError(f"{path} is empty: a config is a mapping of sections (data, model, ...)")
    if not isinstance(raw, dict):
        raise RnnlabError(f"{path}: a config must be a mapping of sections, got {_kind(raw)}")
    return raw


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """`["model.hidden_size=128"]` -> `{"model.hidden_size": 128}` (values as YAML scalars)."""
    parsed: dict[str, Any] = {}
    for item in overrides:
        key, text = split_assignment(item)
        if key is None:
            raise RnnlabError(f"override '{item}' is not KEY=VALUE (e.g. optim.lr=0.5)")
        value = yaml_scalar(text, f"override '{key}'")
        if key in parsed and parsed[key] != value:
            raise RnnlabError(f"conflicting overrides for '{key}': {parsed[key]!r} and {value!r}")
        parsed[key] = value
    return parsed


def split_assignment(item: str) -> tuple[str | None, str]:
    """'KEY=TEXT' -> ('KEY', 'TEXT') (the key stripped); (None, '') when there is no '='
    or no key. Shared by overrides and `--grid KEY=V1,V2`."""
    key, sep, text = item.partition("=")
    key = key.strip()
    return (key, text) if sep and key else (None, "")


def yaml_scalar(text: str, where: str) -> Any:
    """The value a YAML file would give `text` (`5` -> 5, `null` -> None), within the
    bounds of config files (`limits.py`: `where` names it in their error); the text itself
    when it is not valid YAML."""
    try:
        return load_yaml(text, where)
    except yaml.YAMLError:
        return text


def set_dotted(raw: dict, key: str, value: Any) -> None:
    """Set `raw["a"]["b"] = value` for key "a.b", checking the key exists in the schema."""
    *parents, leaf = key.split(".")
    schema: Any = Config
    node = raw
    for i, part in enumerate(parents + [leaf]):
        names = [f.name for f in dataclasses.fields(schema)]
        if part not in names:
            prefix = ".".join(parents[:i])
            full = [f"{prefix}.{n}" if prefix else n for n in names]
            raise RnnlabError(f"unknown override key '{key}'{suggest(key, full)}")
        if part == leaf:
            break
        schema = typing.get_type_hints(schema)[part]
        if not dataclasses.is_dataclass(schema):
            raise RnnlabError(f"override key '{key}': '{part}' is a value, not a section")
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            where = ".".join(parents[: i + 1])
            raise RnnlabError(f"'{where}' must be a mapping of keys, got {_kind(node[part])}")
        node = node[part]
    node[leaf] = value


def flatten_dotted(tree: dict, prefix: str = "") -> dict:
    """The inverse of `set_dotted`: {"train": {"epochs": 3}} -> {"train.epochs": 3}."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_from_dict(raw: dict) -> Config:
    """The checked Config of a raw mapping; its plug-ins are imported first, so that what
    they register is there to check against."""
    if isinstance(raw, dict) and raw.get("plugins") is not None:
        import_plugins(_check_type("plugins", raw["plugins"], list[str]))
    cfg = _build(Config, raw, "")
    _check_cross_fields(cfg)
    return cfg


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def dump_config(cfg: Config) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True)


def _build(cls: Any, raw: Any, prefix: str) -> Any:  # cls: a dataclass of the schema
    where = prefix.rstrip(".") or "config"
    if not isinstance(raw, dict):
        raise RnnlabError(f"'{where}' must be a mapping of keys, got {_kind(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            full = [prefix + n for n in fields]
            raise RnnlabError(f"unknown key '{prefix}{key}'{suggest(prefix + str(key), full)}")
    values = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        key, hint = prefix + name, hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, raw[name] if raw[name] is not None else {}, key + ".")
        else:
            values[name] = check_value(key, raw[name], hint, f.metadata)
    return cls(**values)


def check_value(key: str, value: Any, hint: Any, bounds: typing.Mapping) -> Any:
    """`value` checked against a type hint and range bounds (gt, ge, lt, le), as the
    schema's fields are; RnnlabError naming `key` otherwise."""
    return _check_range(key, _check_type(key, value, hint), bounds)


def _check_type(key: str, value: Any, hint: Any) -> Any:
    """`value` if it has type `hint` (ints widen to float), else RnnlabError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _check_type(key, value, option)
            except RnnlabError:
                pass
        raise RnnlabError(f"'{key}' must be {_describe(hint)}, got {value!r}")
    if origin is Literal:
        if value in args and not isinstance(value, bool):
            return value
        shown = "" if not isinstance(value, str) else suggest(value, [str(a) for a in args])
        choices = " | ".join(str(a) for a in args)
        raise RnnlabError(f"'{key}' must be one of {choices}, got {value!r}{shown}")
    if hint is Any:
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise RnnlabError(f"'{key}' must be a mapping, got {_kind(value)} {value!r}")
        return {
            _check_type(f"{key} key", k, args[0]): _check_type(f"{key}.{k}", v, args[1])
            for k, v in value.items()
        }
    if origin is list:
        if not isinstance(value, list):
            raise RnnlabError(f"'{key}' must be a list, got {_kind(value)} {value!r}")
        return [_check_type(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value)]
    if hint is float and isinstance(value, str):
        value = number_or_text(value)  # YAML 1.1 reads '1e-3' as a string
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    got = "null" if value is None else f"{_kind(value)} {value!r}"
    raise RnnlabError(f"'{key}' must be {_describe(hint)}, got {got}")


def _check_range(key: str, value: Any, bounds: typing.Mapping) -> Any:
    if value is None or not isinstance(value, (int, float)):
        return value
    tests = {
        "gt": (lambda v, b: v > b, "> {}"),
        "ge": (lambda v, b: v >= b, ">= {}"),
        "lt": (lambda v, b: v < b, "< {}"),
        "le": (lambda v, b: v <= b, "<= {}"),
    }
    for name, bound in bounds.items():
        if name not in tests:
            continue  # not a bound: e.g. the registry of a name (`names`)
        ok, text = tests[name]
        if not ok(value, bound):
            raise RnnlabError(f"'{key}' must be {text.format(bound)}, got {value!r}")
    return value


def _check_cross_fields(cfg: Config) -> None:
    if not cfg.name or cfg.name in (".", "..") or any(c in cfg.name for c in "/\\"):
        raise RnnlabError(f"'name' starts the run folder's name: no '/' or '\\', got {cfg.name!r}")
    if len(cfg.name) > MAX_NAME_CHARS or not cfg.name.isprintable():
        raise RnnlabError(
            f"'name' starts the run folder's name: at most {MAX_NAME_CHARS} printable "
            f"characters (no newline, tab or NUL), got {cfg.name[:40]!r}"
            + ("..." if len(cfg.name) > 40 else "")
        )
    if not DEVICE_PATTERN.match(cfg.device):
        raise RnnlabError(f"'device' must be auto, cpu, cuda, cuda:N or mps, got {cfg.device!r}")
    if isinstance(cfg.model.embedding, int) and cfg.model.embedding <= 0:
        raise RnnlabError(f"'model.embedding' must be one_hot or > 0, got {cfg.model.embedding}")
    _check_model(cfg.model)
    check_techniques(cfg)


def _check_model(model) -> None:
    """Options that only some implementations have. The cell and the options only some
    cells have are checked against the cell registry (`rnnlab.models.check_model`)."""
    if model.compile is True and model.impl != "scratch":
        raise RnnlabError(
            "'model.compile: true' compiles rnnlab's scratch cells; builtin layers run "
            "torch's own kernels (set model.impl: scratch, or model.compile: auto)"
        )


def number_or_text(text: str) -> int | float | str:
    """'12' -> 12, '1e-3' -> 0.001, anything else unchanged: the one parser of numbers
    written as text (YAML 1.1 strings in a config, CSV cells)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is Literal:
        return " | ".join(str(a) for a in typing.get_args(hint))
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return "null" if hint is type(None) else names.get(hint, getattr(hint, "__name__", str(hint)))


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    names.update({int: "an integer", float: "a number", type(None): "null"})
    return names.get(type(value), type(value).__name__)
