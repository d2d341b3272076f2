"""What a usage error could have meant: a config key given as an option (`--epochs 5`:
did you mean train.epochs=5?), a value given to a flag (`--dynamic true`: it is a flag),
and flags shown as flags in --help (no `<bool>`)."""

from __future__ import annotations

import dataclasses

BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def commands(group) -> list:
    """Every click command under `group`, itself included, subgroups followed."""
    found = [group]
    for command in getattr(group, "commands", {}).values():
        found += commands(command)
    return found


def show_flags_as_flags(group) -> None:
    """A boolean flag's help row without a value type (`--dynamic`, not `--dynamic <bool>`)."""
    for command in commands(group):
        helper = command.get_help_option(command.context_class(command))  # cached by click
        for param in [*command.params, *([helper] if helper else [])]:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""


def flag_names(group) -> set[str]:
    names: set[str] = set()
    for command in commands(group):
        for param in command.params:
            if getattr(param, "is_flag", False):
                names.update(param.opts)
    return names


def config_keys() -> dict[str, list[str]]:
    """Each config key's last part -> its dotted keys (`epochs` -> [`train.epochs`])."""
    from rnnlab.config.schema import Config

    found: dict[str, list[str]] = {}

    def walk(cls, prefix: str) -> None:
        for f in dataclasses.fields(cls):
            section = f.default_factory  # a section's dataclass, else MISSING
            if isinstance(section, type) and dataclasses.is_dataclass(section):
                walk(section, f"{prefix}{f.name}.")
            else:
                found.setdefault(f.name, []).append(f"{prefix}{f.name}")

    walk(Config, "")
    return found


def option_as_key(option: str, argv: list[str]) -> str | None:
    """'; did you mean train.epochs=5?' for `--epochs 5` (or `--epochs=5`), else None."""
    name, _, inline = option.lstrip("-").partition("=")
    keys = config_keys().get(name.replace("-", "_"), [])
    if not keys and "." in name:
        keys = [name] if name.split(".")[-1] in config_keys() else []
    if not keys:
        return None
    value = inline
    for at, token in enumerate(argv):
        if token.startswith(option + "="):
            value = token.split("=", 1)[1]
        elif token == option and at + 1 < len(argv) and not argv[at + 1].startswith("-"):
            value = argv[at + 1]
    value = value or "VALUE"
    return (
        "did you mean "
        + " or ".join(f"{key}={value}" for key in keys)
        + "? (config keys are KEY=VALUE)"
    )


def value_after_flag(argv: list[str], flags: set[str]) -> str | None:
    """'--dynamic is a flag: ...' when a flag is followed by true/false and the like."""
    for before, word in zip(argv, argv[1:]):
        if before in flags and word.lower() in BOOL_WORDS:
            return f"{before} is a flag and takes no value: give {before} alone, or leave it out for off"
    return None
