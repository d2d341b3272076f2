"""The benchmark scripts run end to end on a tiny config: bench_train's row and its profile
of the timed steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_train_measures_and_profiles_only_the_timed_steps():
    cmd = [sys.executable, str(REPO / "scripts" / "bench_train.py"), "--configs", "tiny"]
    cmd += ["--impls", "builtin", "--steps", "3", "--warmup", "2", "--profile", "1000"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, check=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    assert row["config"] == "tiny" and row["tokens_per_s"] > 0 and row["step_ms"] > 0
    table = out[: out.rindex("{")]
    assert "Self CPU" in table and "aten::" in table
    # the profiler saw three optimizer steps, not the warm-up's two nor an evaluation (all
    # operators are printed: the step's own row is not always among the costliest)
    step_line = next(line for line in table.splitlines() if "Optimizer.step#" in line)
    assert step_line.split()[-1] == "3"
