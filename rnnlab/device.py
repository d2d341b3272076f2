"""Pick the device a run trains on: the config's `device`, or the best one found."""

from __future__ import annotations

import ctypes
import os
import sys
from contextlib import contextmanager

import torch

from rnnlab.cpus import choose_threads, plural
from rnnlab.errors import RnnlabError


def pick_device(name: str) -> torch.device:
    """`auto`: CUDA, then MPS, then CPU. An explicit device that is absent is an error."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RnnlabError(f"device '{name}' asked for, but CUDA is not available here")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise RnnlabError(f"device '{name}' asked for, but only {count} CUDA device(s) exist")
    if name == "mps" and not has_mps:
        raise RnnlabError("device 'mps' asked for, but MPS is not available here")
    return torch.device(name)


@contextmanager
def flush_denormals(device: torch.device):
    """On CPU, flush denormal floats to zero inside the block (training, prediction): a
    classifier's gradient enters an RNN only at each sequence's last step and decays
    through time into the denormal range, where x86 arithmetic is very slow (measured here:
    an LSTM backward pass 15x slower). Values below ~1e-38 become 0; nothing else changes.
    The setting is process-wide, so the previous one is restored on the way out."""
    if device.type != "cpu":
        yield
        return
    before = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def flushing_denormals() -> bool:
    """Whether the CPU flushes denormals now (torch has no getter: try one)."""
    return bool((torch.tensor([1e-37]) / 1e6).item() == 0.0)


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
HEAP_MMAP_THRESHOLD = 32 << 20  # glibc's ceiling for it on 64-bit
HEAP_TRIM_THRESHOLD = 1 << 30


def reuse_cpu_heap() -> bool:
    """On Linux with glibc, serve allocations up to 32 MiB from the heap and keep freed heap
    memory for reuse (mallopt M_MMAP_THRESHOLD and M_TRIM_THRESHOLD), the effect PyTorch's
    CPU performance guide gets from jemalloc or tcmalloc. By default glibc hands a training
    step's large buffers (a word model's 700 x 10,000 logits: 28 MB) back to the kernel
    when they are freed and page-faults them in again at the next step; measured on the
    PTB wlm model, a bf16 step takes ~80 ms that way and ~60 ms with the heap kept (float32:
    3 % faster). Process-wide and for the process's life: training keeps its peak heap.
    Returns whether it applied (False elsewhere: macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(
            libc.mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD)
            and libc.mallopt(M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):
        return False


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({plural(torch.get_num_threads(), 'thread')})"
    return str(device)


def set_threads(setting: int | str) -> str:
    """Set torch's intra-op threads from the config's `threads` (before the first
    operation); return the start-up line that says what was chosen and why."""
    choice = choose_threads(setting)
    torch.set_num_threads(choice.threads)
    policy = os.environ.get("OMP_WAIT_POLICY")
    wait = f"; OMP_WAIT_POLICY={policy}" if policy else ""
    return f"threads: {choice.threads} ({choice.why}{wait})"


@contextmanager
def fits_in_memory(what: str, hint: str):
    """An allocation that fails (a typo like hidden_size: 1000000000) as a user error."""
    try:
        yield
    except (MemoryError, RuntimeError) as err:  # torch.OutOfMemoryError is a RuntimeError
        text = str(err)
        if not isinstance(err, MemoryError) and "allocate" not in text:
            raise
        detail = (text.splitlines() or [type(err).__name__])[0][:160]
        raise RnnlabError(f"{what} does not fit in memory ({detail}); {hint}") from None


def set_deterministic(on: bool) -> None:
    """`train.deterministic`: what PyTorch documents for reproducible CUDA runs
    (deterministic algorithms, cuDNN without autotuning, a fixed cuBLAS workspace). CPU
    kernels are deterministic already; off leaves torch's defaults alone."""
    if not on:
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before the first cuBLAS call
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def peak_memory_mb(device: torch.device) -> float:
    """The run's peak memory in MiB: the CUDA allocator's maximum on a GPU, else the
    process's peak resident set size."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)
