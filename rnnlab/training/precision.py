"""`train.precision` (Lightning's names): `32` (float32 everywhere), `bf16` (autocast the
forward pass and the loss to bfloat16), `16-mixed` (autocast to float16, with a
`torch.amp.GradScaler` scaling the loss so small gradients survive float16) or `auto`
(bf16 where the device computes it natively, 32 elsewhere, as nanoGPT picks its dtype).

bfloat16 on a CPU without avx512_bf16 / amx_bf16 is emulated: measured on an AVX2 EPYC
(2026-11-30), the PTB word model's output layer and loss took 2.3 s a step in bf16 against
113 ms in float32, and oneDNN has no bfloat16 LSTM there at all. `auto` is what a config
meant for any machine says; an explicit `bf16` with a builtin LSTM on such a CPU is refused.

The weights, the optimizer and the gradients stay float32 in every mode (mixed precision):
only the products inside autocast run in the low precision. With the scaler:

    backward   scaler.scale(loss).backward()          gradients x scale
    unscale    scaler.unscale_(optimizer)             before gradient norms and clipping,
                                                      so both see the true gradients
    step       scaler.step(optimizer)                 skipped by the scaler when a
                                                      gradient is inf or nan (scale too big)
    update     scaler.update()                        halve the scale after such a step,
                                                      double it after 2000 good ones

The scaler's state (scale, growth tracker) goes into every checkpoint, so a resumed run
continues with the same scale and stays exact.
"""

from __future__ import annotations

import contextlib

import torch

from rnnlab.config import ModelConfig
from rnnlab.errors import RnnlabError
from rnnlab.models import CELLS

DTYPES = {"bf16": torch.bfloat16, "16-mixed": torch.float16}


class Precision:
    """Autocast and loss scaling for one training session."""

    def __init__(self, mode: int | str, device: torch.device):
        self.mode, self.device = mode, device
        self.dtype = DTYPES.get(str(mode))  # None for 32
        self.scaler = torch.amp.GradScaler(device.type) if mode == "16-mixed" else None
        self.skipped_by_scaler = 0  # steps the scaler left out (an overflow, not a nan)

    def autocast(self):
        """The context the forward pass and the loss run in."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, objective: torch.Tensor) -> None:
        (self.scaler.scale(objective) if self.scaler else objective).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """True gradients again (before norms and clipping); nothing to do without a scaler."""
        if self.scaler:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
            return
        scale = self.scaler.get_scale()
        self.scaler.step(optimizer)  # skipped when a gradient is inf or nan
        self.scaler.update()
        if self.scaler.get_scale() < scale:  # the scale backed off: this step was skipped
            self.skipped_by_scaler += 1

    def finite_norm_expected(self) -> bool:
        """Whether an inf gradient norm means divergence (False under a scaler: an overflow
        at a large scale is routine, and the scaler skips that step itself)."""
        return self.scaler is None

    def state_dict(self) -> dict:
        if self.scaler is None:
            return {}
        return {"scaler": self.scaler.state_dict(), "skipped": self.skipped_by_scaler}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state["scaler"])
            self.skipped_by_scaler = state["skipped"]


def resolve_precision(mode: int | str, device: torch.device) -> int | str:
    """The precision a session runs in: `auto` becomes bf16 where the device has native
    bfloat16 (a CPU with avx512_bf16 / amx_bf16, a CUDA device of compute capability 8.0+)
    and 32 elsewhere (MPS included); every other mode is itself."""
    if mode != "auto":
        return mode
    native = {"cpu": cpu_has_bf16, "cuda": torch.cuda.is_bf16_supported}
    return "bf16" if native.get(device.type, lambda: False)() else 32


def builtin_with_memory(model_cfg) -> bool:
    """A torch.nn layer whose state has a memory cell (torch.nn.LSTM: oneDNN's kernel)."""
    return model_cfg.impl == "builtin" and CELLS.get(model_cfg.cell).memory


def check_precision(mode: int | str, device: torch.device, model_cfg: ModelConfig) -> list[str]:
    """Refuse what cannot run (RnnlabError); return warnings for what runs but is slow.
    `mode` is resolved (`resolve_precision`): never `auto`."""
    warnings: list[str] = []
    if str(mode) == "32":  # the config's int 32
        return warnings
    if device.type == "mps" and mode == "bf16":
        raise RnnlabError("train.precision: bf16 is not supported on MPS; use 16-mixed or 32")
    if device.type == "cpu" and mode == "16-mixed":
        if builtin_with_memory(model_cfg):
            raise RnnlabError(
                "train.precision: 16-mixed with a builtin LSTM cannot run on the CPU "
                "(oneDNN has no float16 LSTM); use bf16 on the CPU, or a CUDA device"
            )
        warnings.append(
            "train.precision: 16-mixed on the CPU runs float16 arithmetic in software (slow); "
            "bf16 is the CPU's low precision"
        )
    if device.type == "cpu" and mode == "bf16" and not cpu_has_bf16():
        if builtin_with_memory(model_cfg) and not cpu_runs_bf16_lstm():
            raise RnnlabError(
                "train.precision: bf16 with a builtin LSTM cannot run on this CPU (no native "
                "bfloat16: oneDNN has no bfloat16 LSTM here); use train.precision=auto or 32"
            )
        warnings.append(
            "train.precision: bf16 on a CPU without native bfloat16 instructions "
            "(avx512_bf16 / amx_bf16) is emulated, many times slower than 32 (measured 20x "
            "on an AVX2 EPYC); train.precision=auto picks 32 here"
        )
    if device.type == "cuda" and mode == "bf16" and not torch.cuda.is_bf16_supported():
        raise RnnlabError("train.precision: bf16 needs a CUDA device of compute capability 8.0+")
    return warnings


def cpu_runs_bf16_lstm() -> bool:
    """Whether oneDNN builds a bfloat16 LSTM on this CPU (a few milliseconds to find out:
    it needs AVX-512; on AVX2 the primitive cannot be created)."""
    lstm = torch.nn.LSTM(2, 2)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(torch.zeros(1, 1, 2))  # (T, B, input)
    except RuntimeError:
        return False
    return True


def cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
