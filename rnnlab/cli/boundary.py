"""The CLI boundary: every user error, rnnlab's own (`RnnlabError`) or click's (an unknown
option, a missing argument), leaves as one `error:` line on stderr and exit code 2."""

from __future__ import annotations

import functools
import inspect
import sys
import threading

import typer
from typer.core import TyperGroup

from rnnlab.errors import RnnlabError
from rnnlab.runs.fileio import background_errors, file_error, storage_error

try:  # typer >= 0.24 carries its own copy of click
    from typer._click import exceptions as usage
except ImportError:
    from click import exceptions as usage  # type: ignore[no-redef]


class OneLineUsageErrors(TyperGroup):
    """Click's own usage errors (an unknown option, an option value of the wrong type, a
    missing argument) as one `error:` line and exit code 2, like every other user error."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        from rnnlab.cli.hints import show_flags_as_flags

        show_flags_as_flags(self)
        threading.excepthook = background_errors  # a writer thread's failure: one line
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        except usage.NoArgsIsHelpError as err:  # the help is already printed
            sys.exit(err.exit_code)
        except usage.UsageError as err:
            hint = f" (see {err.ctx.command_path} --help)" if err.ctx else ""
            meant = _meant(self, err, args[0] if args else kwargs.get("args"))
            typer.echo(f"error: {err.format_message()}{meant or hint}", err=True)
            sys.exit(2)
        except usage.ClickException as err:
            typer.echo(f"error: {err.format_message()}", err=True)
            sys.exit(err.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _meant(group, err, args) -> str:
    """'; did you mean train.epochs=5?' and the like for a usage error, or ''."""
    from rnnlab.cli.hints import flag_names, option_as_key, value_after_flag

    argv = [str(a) for a in (sys.argv[1:] if args is None else args)]
    if isinstance(err, usage.NoSuchOption):
        meant = option_as_key(err.option_name, argv)
        return f"; {meant}" if meant else ""
    if "unexpected extra argument" in err.format_message():
        meant = value_after_flag(argv, flag_names(group))
        return f"; {meant}" if meant else ""
    return ""


def user_errors(command):
    """The CLI boundary: a user error becomes `error: <one line>` and exit code 2; so does
    a storage fault (read-only, full, no permission, name too long) at any write. The
    command's docstring becomes its --help with each paragraph on one line, for the
    terminal to wrap (`unwrapped`)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RnnlabError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except Exception as err:  # noqa: BLE001 - file errors only; the rest re-raised
            fault = (
                storage_error(err, err.filename or "a file") if isinstance(err, OSError) else None
            )
            fault = fault or file_error(err)
            if fault is None:
                raise
            typer.echo(f"error: {fault}", err=True)
            raise typer.Exit(2) from None

    wrapper.__doc__ = unwrapped(command.__doc__ or "")
    return wrapper


def unwrapped(doc: str) -> str:
    """A docstring with each paragraph's lines joined: --help wraps them to the terminal
    instead of keeping the source's line breaks mid-sentence."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def check_checkpoint(which: str) -> None:
    """--checkpoint names one of a run's two checkpoints."""
    if which not in ("best", "last"):
        raise RnnlabError(f"--checkpoint must be best or last, got {which!r}")
