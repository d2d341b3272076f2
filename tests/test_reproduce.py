"""scripts/results_md.py turns real run and sweep folders into the results page, and
scripts/reproduce.sh runs every experiment with a config and overrides that pass the checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import dry_run_commands
from typer.testing import CliRunner

from rnnlab.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_reproduce_runs_every_shipped_experiment_with_valid_overrides(tmp_path):
    """--dry-run prints what it would run; every config and override passes the checks
    (dry_run_commands), and nothing is written."""
    out = tmp_path / "out"
    full = dry_run_commands("reproduce.sh", "--out", str(out))
    quick = dry_run_commands("reproduce.sh", "--quick", "--out", str(out))
    assert not out.exists()
    experiments = [c for c in quick if c[0] in ("train", "sweep") and "--out" in c]
    assert len(experiments) == 23  # IMDB is skipped here: no full aclImdb/ in the data dir
    assert {c[1] for c in experiments} >= {"configs/gru_timemachine.yaml", "configs/srn_clip.yaml"}
    assert all("train.epochs=10" in c or "train.epochs=20" in c for c in experiments)
    # the full mode runs the configs as shipped: no overrides but the sweeps' workers
    assert all(len(c) == 5 for c in full if c[0] == "train" and "--out" in c), full
    # then inspect_demo.sh --quick into OUT/inspect: it inspects the folders it trained
    trained = {c[c.index("--run-dir") + 1] for c in quick if "--run-dir" in c}
    inspected = {a for c in quick if c[0] == "inspect" for a in c[1:] if a.startswith(str(out))}
    assert (
        len(trained) == 6
        and inspected - {str(out / "inspect" / d) for d in ("digitsum35", "explosion")} <= trained
    )
    assert all(c[0] != "train" or "train.epochs=10" in c for c in quick if "--run-dir" in c)


def train(config: str, out: Path, *overrides: str) -> Path:
    args = ["train", str(REPO / "configs" / config), *overrides, "--out", str(out), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_results_page_from_run_and_sweep_folders(tmp_path, tiny_lm_run):
    runs = tmp_path / "reproduce"
    # Real folders, made small: a language model (the session's), a clipped SRN with its
    # gradient norms, and a sweep folder (results.csv) over two DigitSum lengths, copied
    # from two runs.
    lm = runs / "rnn_timemachine" / tiny_lm_run.name
    shutil.copytree(tiny_lm_run, lm)
    clip = train("srn_clip.yaml", runs / "srn_clip", "train.epochs=1", "data.length=5")
    sweep = runs / "digitsum_lstm" / "digitsum_lstm-1"
    rows = ["run,data.length,seed,status,test_acc"]
    for length in (4, 6):
        run = train(
            "tiny_digitsum.yaml", tmp_path / "points", "train.epochs=1", f"data.length={length}"
        )
        shutil.copytree(run, sweep / "runs" / f"length-{length}_seed-0")
        acc = json.loads((run / "summary.json").read_text())["test"]["test_acc"]
        rows.append(f"length-{length}_seed-0,{length},0,finished,{acc}")
    (sweep / "results.csv").write_text("\n".join(rows) + "\n")
    (runs / "times.tsv").write_text(
        "experiment\tkind\tconfig\tstatus\twall_s\tfolder\n"
        f"rnn_timemachine\ttrain\trnn_timemachine\tfinished\t12.5\t{lm}\n"
        f"digitsum_lstm\tsweep\tdigitsum_lstm\tfinished\t61.0\t{sweep}\n"
        f"srn_clip\ttrain\tsrn_clip\tfinished\t3.0\t{clip}\n"
        "imdb_bilstm\ttrain\timdb_bilstm\tskipped: no full IMDB at /nowhere\t0\t\n"
    )
    (runs / "meta.tsv").write_text(
        "mode\tfull\nstarted\t2026-11-23 17:00 UTC\ntotal_s\t600\ncores\t2\njobs\t2\nthreads\t1\n"
    )

    md = tmp_path / "docs" / "results.md"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "results_md.py"), str(runs), "--out", str(md)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    text = md.read_text(encoding="utf-8")
    assert "2 CPU cores" in text and "Total wall time 10.0 min" in text
    assert "2 experiments at a time, 1 torch thread(s) each" in text
    # the book's figure beside ours, with the sample the run generated
    sample = (lm / "samples.txt").read_text(encoding="utf-8").splitlines()[-1].split("\t")[1]
    row = next(line for line in text.splitlines() if line.startswith("| rnn_timemachine |"))
    assert "d2l 8.5" in row and "train ppl ~1.0" in row and "| 12 s |" in row and sample in row
    assert "| len 4 | len 6 |" in text  # DigitSum accuracy by length
    assert any(line.startswith("| digitsum_lstm | nndl 6.3") for line in text.splitlines())
    assert "| srn_clip | nndl 6.2.3" in text
    assert "Not run: skipped: no full IMDB at /nowhere." in text
    assert "| gru_jaychou | not run: the reproduction stopped before it | |" in text
    images = sorted(p.name for p in (md.parent / "img" / "results").iterdir())
    assert images == [
        "digitsum_test_acc.png",
        "srn_clip_grad_norms.png",
        "timemachine_train_ppl.png",
    ]
    for name in images:
        assert f"](img/results/{name})" in text
        assert (md.parent / "img" / "results" / name).stat().st_size <= 80_000
