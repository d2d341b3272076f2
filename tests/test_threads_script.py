"""scripts/threads_under_load.py end to end on the tiny config, without the background
load and with two settings (the real measurement is the lead's, on a quiet machine)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_threads_under_load_prints_a_markdown_table():
    cmd = [sys.executable, str(REPO / "scripts" / "threads_under_load.py"), "--config",
           str(REPO / "configs" / "tiny.yaml"), "--seconds", "1", "--no-load",
           "--settings", "1 thread,both"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("Host: ") and time.strftime("%Y-%m-%d") in lines[0]
    assert "no other load" in lines[0]
    assert lines[2] == "| setting | threads | OMP_WAIT_POLICY | tokens/s | vs first row |"
    assert lines[4].startswith("| 1 thread | 1 | (default) | ") and lines[4].endswith("| 1.00x |")
    assert lines[5].startswith("| both | 1 | PASSIVE | ")
