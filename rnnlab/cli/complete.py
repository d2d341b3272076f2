"""Shell completion (`rnnlab --install-completion`): besides commands and options, config
paths and run folders. Completers run on every Tab, so they only glob: no torch, no YAML."""

from __future__ import annotations

from pathlib import Path


def complete_config(incomplete: str) -> list[str]:
    """YAML files whose path starts with what is typed: under the folder typed so far, else
    the current folder and configs/."""
    folders = [typed_folder(incomplete)] if "/" in incomplete else [Path("."), Path("configs")]
    found = [str(p) for folder in folders if folder.is_dir()
             for p in sorted(folder.glob("*.y*ml")) if str(p).startswith(incomplete)]  # fmt: skip
    subfolders = [f"{p}/" for folder in folders if folder.is_dir() for p in sorted(folder.iterdir())
                  if p.is_dir() and not p.name.startswith(".") and str(p).startswith(incomplete)]  # fmt: skip
    return found + subfolders


def complete_run(incomplete: str) -> list[str]:
    """Run folders (with config.yaml) and sweep folders (with sweep.yaml) that start with
    what is typed: under the folder typed so far, else under runs/ and runs/sweeps/."""
    if "/" in incomplete:
        parents = [typed_folder(incomplete)]
    else:
        parents = [Path("runs"), Path("runs/sweeps"), Path(".")]
    found = []
    for parent in parents:
        if not parent.is_dir():
            continue
        for path in sorted(parent.iterdir(), key=_mtime, reverse=True):  # newest first
            is_run = (path / "config.yaml").is_file() or (path / "sweep.yaml").is_file()
            if (is_run or path.name in ("runs", "sweeps")) and str(path).startswith(incomplete):
                found.append(str(path))
    return found


def typed_folder(incomplete: str) -> Path:
    """The folder of a partly typed path: 'runs/' -> runs, 'runs/gr' -> runs."""
    return Path(incomplete) if incomplete.endswith("/") else Path(incomplete).parent


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
