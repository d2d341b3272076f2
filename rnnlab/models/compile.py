"""`model.compile`: run the scratch cells' time loops through torch.compile, or not.

Compiling turns each cell's forward and backward loop (`cells/`) into one graph whose
elementwise work per step is one fused kernel. It pays in steady state (docs/cells.md),
but the first call compiles for tens of seconds on a CPU, so:

    true   always compile the training loops (evaluation and generation stay eager)
    false  never
    auto   compile on CUDA, and on a CPU with a C++ compiler when the run has at least
           AUTO_MIN_STEPS_CPU optimizer steps, enough to win the compile time back

Compiled graphs are cached on disk (`compile_cache_dir()`), so a second run with the same
shapes skips most of the compile time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rnnlab.config.schema import ModelConfig
from rnnlab.errors import RnnlabError

from .cells import CELLS

# Steps a CPU run needs before `auto` compiles: about 60 s of compiling (no cache) repaid
# at a few ms per step (docs/cells.md).
AUTO_MIN_STEPS_CPU = 20_000


def compile_cache_dir() -> Path:
    """`$RNNLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/rnnlab`, else `~/.cache/rnnlab`; plus
    `torch-compile`."""
    given = os.environ.get("RNNLAB_CACHE_DIR")
    root = (
        Path(given)
        if given
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnlab"
    )
    return root.expanduser() / "torch-compile"


def use_compile_cache() -> None:
    """Point TorchInductor's on-disk cache (FX graphs, kernels) at rnnlab's, unless the
    user chose one; read when torch.compile first compiles."""
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir() / "inductor"))


def has_cpp_compiler() -> bool:
    """TorchInductor builds its CPU kernels with a C++ compiler."""
    return any(shutil.which(name) for name in ("c++", "g++", "clang++"))


def resolve_compile(
    model_cfg: ModelConfig, device_type: str, planned_steps: int | None
) -> tuple[bool, str]:
    """(compile or not, why) for a run's `model` section on a device type ("cpu", "cuda")."""
    setting = model_cfg.compile
    if model_cfg.impl != "scratch":
        return False, "builtin layers are torch's own kernels"
    if CELLS.get(model_cfg.cell).sequence:
        return False, f"{model_cfg.cell} is a sequence layer: no time loop to compile"
    if setting is not True and setting is not False:  # auto
        if device_type == "cuda":
            return True, "auto: CUDA"
        if device_type != "cpu":
            return False, f"auto: not on {device_type}"
        if not has_cpp_compiler():
            return False, "auto: no C++ compiler for TorchInductor"
        if planned_steps is None or planned_steps < AUTO_MIN_STEPS_CPU:
            shown = "an unknown number of" if planned_steps is None else f"{planned_steps:,}"
            return False, f"auto: {shown} steps do not repay compiling on a CPU"
        return True, f"auto: {planned_steps:,} steps repay compiling"
    if setting and device_type == "cpu" and not has_cpp_compiler():
        raise RnnlabError(
            "model.compile: true needs a C++ compiler for TorchInductor on a CPU "
            "(none of c++, g++, clang++ is on PATH); set model.compile: false"
        )
    return setting, f"model.compile: {str(setting).lower()}"


def set_compiled(model, on: bool) -> None:
    """Switch every recurrent stack in `model` that can compile to compiled (or eager)."""
    for module in model.modules():
        if hasattr(module, "set_compiled"):
            module.set_compiled(on)
