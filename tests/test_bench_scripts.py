"""The benchmark scripts run end to end on a tiny config: bench_train's row and its profile
of the timed steps; bench_generate's rows per cell and position and its table."""

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


def test_bench_generate_rows_and_table(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import bench_generate

    page = tmp_path / "page.md"
    page.write_text("# Page\n\n<!-- bench-generate -->\nold\n<!-- /bench-generate -->\nafter\n")
    argv = ["bench_generate.py", "--cells", "lstm,mingru", "--positions", "10,50"]
    argv += ["--tokens", "5", "--repeats", "1", "--threads", "1", "--write", str(page)]
    monkeypatch.setattr(sys, "argv", argv)
    bench_generate.main()
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["cell"], r["impl"], r["position"]) for r in rows] == [
        ("lstm", "builtin", 10),
        ("lstm", "builtin", 50),
        ("mingru", "scratch", 10),
        ("mingru", "scratch", 50),
    ]
    assert all(r["tokens"] == 5 and r["tokens_per_s"] > 0 and r["median_step_ms"] > 0 for r in rows)
    assert rows[0]["cost_vs_first"] == 1.0 and rows[1]["cost_vs_first"] > 0
    text = page.read_text()
    assert "old" not in text and text.endswith("<!-- /bench-generate -->\nafter\n")
    assert text.count("<!-- bench-generate -->") == 1
    assert "| lstm | builtin |" in text and "| mingru | scratch |" in text
    assert "tokens/s at 10 | tokens/s at 50 | cost ratio" in text
