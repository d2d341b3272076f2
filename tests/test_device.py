"""rnnlab/device.py: flushing denormals to zero, on CPU and only while training; the CPU heap
kept for reuse so large step buffers are not page-faulted in at every step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.device import flush_denormals, flushing_denormals
from rnnlab.training.precision import cpu_has_bf16

REPO = Path(__file__).resolve().parents[1]
TINY_DIGITSUM = REPO / "configs" / "tiny_digitsum.yaml"


def test_denormals_are_flushed_inside_the_block_and_the_setting_given_back():
    supported = torch.set_flush_denormal(False)  # False where the CPU cannot flush them
    assert not flushing_denormals()
    with flush_denormals(torch.device("cpu")):
        assert flushing_denormals() == supported
    assert not flushing_denormals()
    with pytest.raises(KeyError), flush_denormals(torch.device("cpu")):
        raise KeyError("an error inside the block")
    assert not flushing_denormals()  # given back on the way out of an error too
    torch.set_flush_denormal(True)  # a setting that was on before stays on
    try:
        with flush_denormals(torch.device("cpu")):
            pass
        assert flushing_denormals() == supported
    finally:
        torch.set_flush_denormal(False)


def test_other_devices_leave_the_cpu_setting_alone():
    with flush_denormals(torch.device("meta")):
        assert not flushing_denormals()


def test_denormals_are_flushed_only_while_training(tmp_path):
    assert not flushing_denormals()
    result = CliRunner().invoke(
        app, ["train", str(TINY_DIGITSUM), "--out", str(tmp_path), "train.epochs=1"]
    )
    assert result.exit_code == 0, result.output
    assert not flushing_denormals()  # the process-wide setting is given back


FAULTS_PER_STEP = """
import resource, sys, torch
from rnnlab.device import reuse_cpu_heap
if sys.argv[1] == "reuse":
    assert reuse_cpu_heap()
emb, lstm, out = torch.nn.Embedding(10000, 200), torch.nn.LSTM(200, 200), torch.nn.Linear(200, 10000)
x, y = torch.randint(0, 10000, (35, 20)), torch.randint(0, 10000, (700,))
def step():  # a bf16 step of the PTB wlm model's shape: 700 x 10,000 logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h, _ = lstm(emb(x))
        loss = torch.nn.functional.cross_entropy(out(h).view(700, -1), y)
    loss.backward()
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
@pytest.mark.skipif(
    not cpu_has_bf16(), reason="a bf16 step: needs a CPU with native bfloat16 (avx512_bf16)"
)
def test_a_reused_heap_stops_page_faulting_a_word_models_steps():
    """By default glibc maps a step's large buffers afresh each time (measured: ~18,000 page
    faults a step, 70 MB of fresh pages); with `reuse_cpu_heap` (training on CPU) they come
    back from the heap."""

    def faults_per_step(mode: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", FAULTS_PER_STEP, mode],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        return float(out.stdout.split()[-1])

    # two of each, alternated: a busy moment (other test workers) shifts one count
    default = max(faults_per_step("default"), faults_per_step("default"))
    reused = min(faults_per_step("reuse"), faults_per_step("reuse"))
    assert default > 3000  # measured 16,000-27,000; 6,000 once in a busy CI
    assert reused < default / 4  # measured 0 on a quiet machine, 1,700-1,750 in a busy CI
