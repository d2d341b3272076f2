"""Run folders and what is written into them: the folder layout and its files (`run.py`),
atomic writes (`fileio.py`), plots, the progress display, and `compare` across runs.

Nothing here imports torch at module level."""

from .run import Run, load_checkpoint, new_folder, newest_run

__all__ = ["Run", "load_checkpoint", "new_folder", "newest_run"]
