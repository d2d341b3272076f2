"""rnnlab/device.py: flushing denormals to zero, on CPU and only while training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.device import flush_denormals, flushing_denormals

TINY_DIGITSUM = Path(__file__).resolve().parents[1] / "configs" / "tiny_digitsum.yaml"


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
