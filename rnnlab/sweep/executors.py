"""The executor object a sweep's settings name: local processes, or tasks on a Ray cluster
(imported only when asked for)."""

from __future__ import annotations

from .jobs import ExecutorSettings
from .local import LocalExecutor


def make_executor(settings: ExecutorSettings, workers: int, gpus: int = 0):
    if settings.name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(settings)
    return LocalExecutor(workers, gpus)
