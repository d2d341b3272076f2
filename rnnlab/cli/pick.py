"""The run a command uses when none is given: the newest under runs/ whose task takes the
command's input (`--prefix`: a language model, `--text`: a text classifier, `--seq`:
DigitSum), said on stderr in one line ("using run runs/...")."""

from __future__ import annotations

from pathlib import Path

import typer

from rnnlab.errors import RnnlabError

WHAT = {"--prefix": "a language model", "--text": "a text classifier", "--seq": "a DigitSum model"}


def pick_run(run: Path | None, option: str | None = None, parent: Path = Path("runs")) -> Path:
    """`run` itself when given; else the newest trained run under `parent` that `option`
    feeds (any trained run when None), announced on stderr."""
    if run is not None:
        return run
    for candidate in runs_newest_first(parent):
        if (candidate / "checkpoints" / "best.pt").is_file() and fits(candidate, option):
            typer.echo(f"using run {candidate}", err=True)
            return candidate
    need = f" with {WHAT[option]} (for {option})" if option in WHAT else ""
    raise RnnlabError(f"no trained run under {parent}{need}: train one first, or pass --run DIR")


def runs_newest_first(parent: Path) -> list[Path]:
    if not Path(parent).is_dir():
        return []
    configs = [p for p in Path(parent).glob("*/config.yaml")]
    return [p.parent for p in sorted(configs, key=lambda p: p.stat().st_mtime, reverse=True)]


def fits(run_dir: Path, option: str | None) -> bool:
    """Whether the run's task reads `option`'s input (a config that no longer loads: no)."""
    if option is None:
        return True
    from rnnlab.config import load_config
    from rnnlab.tasks import task_of

    try:
        return task_of(load_config(run_dir / "config.yaml")).predict_option == option
    except (RnnlabError, OSError):
        return False
