"""The CLI boundary: every user error, rnnlab's own (`RnnlabError`) or click's (an unknown
option, a missing argument), leaves as one `error:` line on stderr and exit code 2."""

from __future__ import annotations

import functools
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
        threading.excepthook = background_errors  # a writer thread's failure: one line
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        except usage.NoArgsIsHelpError as err:  # the help is already printed
            sys.exit(err.exit_code)
        except usage.UsageError as err:
            hint = f" (see {err.ctx.command_path} --help)" if err.ctx else ""
            typer.echo(f"error: {err.format_message()}{hint}", err=True)
            sys.exit(2)
        except usage.ClickException as err:
            typer.echo(f"error: {err.format_message()}", err=True)
            sys.exit(err.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def user_errors(command):
    """The CLI boundary: a user error becomes `error: <one line>` and exit code 2; so does
    a storage fault (read-only, full, no permission, name too long) at any write."""

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

    return wrapper


def check_checkpoint(which: str) -> None:
    """--checkpoint names one of a run's two checkpoints."""
    if which not in ("best", "last"):
        raise RnnlabError(f"--checkpoint must be best or last, got {which!r}")
