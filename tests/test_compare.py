"""`rnnlab compare` (rnnlab/runs/compare.py): which runs it finds, how it labels them,
which metric it compares by default (the key metric summary.json names: val_ppl for a
language model, dev_acc for a classifier), the table's values and the plot. Unit tests on
hand-made run folders, then the command on tiny trained runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run
from rnnlab.runs.compare import (
    best_of,
    collect_runs,
    default_metric,
    labels,
    plot_runs,
    table_rows,
)

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
LM_SUMMARY = {"status": "finished", "key_metric": "val_ppl", "higher_is_better": False}
CLS_SUMMARY = {"status": "finished", "key_metric": "dev_acc", "higher_is_better": True}


def make_run(path: Path, config: dict, rows: list[dict], summary: dict | None = None) -> Run:
    """A run folder as training leaves it: config.yaml, metrics.csv, summary.json."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    run = Run(path)
    run.write_metrics(rows)
    if summary is not None:
        run.write_summary(summary)
    return run


def lm_rows(*val_ppl: float) -> list[dict]:
    return [
        {"epoch": i + 1, "step": 10 * (i + 1), "train_ppl": 9.0 - i, "val_ppl": v}
        for i, v in enumerate(val_ppl)
    ]


# --- finding runs ---
def test_runs_from_run_sweep_and_parent_folders(tmp_path):
    one = make_run(tmp_path / "one", {"name": "a"}, lm_rows(5.0))
    sweep = tmp_path / "sweep"
    for point in ("cell-rnn_seed-0", "cell-gru_seed-0"):
        make_run(sweep / "runs" / point, {"name": "s"}, lm_rows(4.0))
    (sweep / "sweep.yaml").write_text("grid: {}\n")
    parent = tmp_path / "parent"
    make_run(parent / "x-1", {"name": "x"}, lm_rows(3.0))
    make_run(parent / "x-2", {"name": "x"}, lm_rows(3.0))
    found = collect_runs([one.dir, sweep, parent])
    assert [r.dir.name for r in found] == [
        "one",
        "cell-gru_seed-0",
        "cell-rnn_seed-0",
        "x-1",
        "x-2",
    ]


def test_no_runs_is_an_error(tmp_path):
    with pytest.raises(RnnlabError, match="is not a run folder, a sweep folder or a folder"):
        collect_runs([tmp_path / "nowhere"])
    with pytest.raises(RnnlabError, match="no runs found in"):
        collect_runs([tmp_path])


# --- labels ---
def test_labels_name_the_config_values_that_differ(tmp_path):
    base = {"name": "a", "seed": 0, "model": {"cell": "rnn", "hidden_size": 8}}
    other = {"name": "b", "seed": 1, "model": {"cell": "gru", "hidden_size": 8}}
    runs = [make_run(tmp_path / n, c, []) for n, c in (("r1", base), ("r2", other))]
    assert labels(runs) == ["cell=rnn, seed=0", "cell=gru, seed=1"]  # not name, not hidden_size


def test_labels_keep_the_section_when_short_names_clash(tmp_path):
    a = {"model": {"dropout": 0.1}, "data": {"dropout": 0.0}}
    b = {"model": {"dropout": 0.2}, "data": {"dropout": 0.5}}
    runs = [make_run(tmp_path / n, c, []) for n, c in (("a", a), ("b", b))]
    assert labels(runs) == [
        "data.dropout=0.0, model.dropout=0.1",
        "data.dropout=0.5, model.dropout=0.2",
    ]


def test_runs_that_do_not_differ_are_labelled_by_folder(tmp_path):
    runs = [make_run(tmp_path / n, {"name": n, "seed": 0}, []) for n in ("first", "second")]
    assert labels(runs) == ["first", "second"]


# --- the default metric ---
@pytest.mark.parametrize("summary, metric", [(LM_SUMMARY, "val_ppl"), (CLS_SUMMARY, "dev_acc")])
def test_the_default_metric_is_the_key_metric_of_summary_json(tmp_path, summary, metric):
    # "best" starts with epoch and step: the column compare once picked by mistake
    best = {"epoch": 2, "step": 20, metric: 1.5}
    running = make_run(tmp_path / "running", {}, lm_rows(6.0))  # no summary.json yet
    done = make_run(tmp_path / "done", {}, lm_rows(6.0), {**summary, "best": best})
    assert default_metric([running, done]) == metric


def test_without_any_summary_the_default_metric_is_the_training_loss(tmp_path):
    assert default_metric([make_run(tmp_path / "r", {}, lm_rows(6.0))]) == "train_loss"


# --- the table ---
def test_table_rows_show_best_last_and_test_by_the_metric(tmp_path):
    summary = {**CLS_SUMMARY, "epochs": 3, "best": {"epoch": 2, "step": 20, "dev_acc": 0.9},
               "test": {"test_loss": 0.3, "test_acc": 0.88}, "wall_s": 12.0}  # fmt: skip
    rows = [{"epoch": e, "step": 10 * e, "dev_acc": a} for e, a in ((1, 0.5), (2, 0.9), (3, 0.8))]
    run = make_run(tmp_path / "cls", {}, rows, summary)
    [row] = table_rows([run], ["cls"], "dev_acc")
    assert row["best dev_acc"] == 0.9 and row["last dev_acc"] == 0.8
    assert row["test acc"] == 0.88 and row["test loss"] == 0.3
    assert (row["status"], row["epochs"], row["wall s"]) == ("finished", 3, 12.0)


def test_a_metric_summary_json_has_no_best_of_is_taken_from_metrics_csv(tmp_path):
    lm = make_run(tmp_path / "lm", {}, lm_rows(7.0, 5.0, 6.0), {**LM_SUMMARY, "best": {}})
    running = make_run(tmp_path / "running", {}, lm_rows(7.0, 5.0, 6.0))
    [done, going] = table_rows([lm, running], ["lm", "running"], "train_ppl")
    assert done["best train_ppl"] == 7.0 and done["last train_ppl"] == 7.0  # 9, 8, 7: lowest
    assert going["status"] == "running?" and going["epochs"] == 3


def test_best_of_follows_higher_is_better():
    assert best_of([0.5, 0.9, 0.8], {"higher_is_better": True}) == 0.9
    assert best_of([7.0, 5.0, 6.0], {"higher_is_better": False}) == 5.0
    assert best_of([7.0, 5.0, 6.0], {}) == 5.0  # perplexity and loss when not said
    assert best_of([], {"higher_is_better": True}) is None


# --- the plot ---
def test_plot_runs_overlays_the_metric_and_refuses_a_missing_column(tmp_path):
    runs = [make_run(tmp_path / n, {}, lm_rows(7.0, 5.0)) for n in ("a", "b")]
    plot_runs(tmp_path / "cmp.png", runs, ["a", "b"], "val_ppl")
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(RnnlabError, match="no run has a 'val_acc' column"):
        plot_runs(tmp_path / "none.png", runs, ["a", "b"], "val_acc")
    assert not (tmp_path / "none.png").exists()


# --- the command on trained runs ---
@pytest.fixture
def trained(tiny_lm_run, tiny_digitsum_run) -> dict[str, Path]:
    """The session's tiny language model and tiny DigitSum classifier, 2 log points each."""
    return {"lm": tiny_lm_run, "classifier": tiny_digitsum_run}


@pytest.mark.parametrize(
    "kind, metric, pick", [("lm", "val_ppl", min), ("classifier", "dev_acc", max)]
)
def test_compare_picks_the_validation_metric_of_the_task(trained, tmp_path, kind, metric, pick):
    run = Run(trained[kind])
    assert default_metric([run]) == metric
    result = runner.invoke(app, ["compare", str(run.dir), "--out", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "status" in line)
    assert f"best {metric}" in header and f"last {metric}" in header and "step" not in header
    [row] = table_rows([run], ["run"], metric)
    logged = [r[metric] for r in run.read_metrics()]
    assert len(logged) == 2 and row["best " + metric] == pick(logged)
    assert row["best " + metric] == run.read_summary()["best"][metric]
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_an_unknown_metric_is_one_line(trained, tmp_path):
    args = ["compare", str(trained["lm"]), "--metric", "val_acc", "--out", str(tmp_path / "x.png")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "no run has a 'val_acc' column" in result.output


def test_compare_reads_past_a_corrupt_summary_and_metrics(trained, tmp_path):
    """Not bad input to refuse: a run's summary.json or metrics.csv may be cut short or
    hand-edited; compare shows what it can read."""
    lm = trained["lm"]
    for name, file, text in [
        ("a", "summary.json", "[1, 2]"),
        ("b", "metrics.csv", "\x00x\n1,2,3\n"),
    ]:
        shutil.copytree(lm, tmp_path / name)
        (tmp_path / name / file).write_text(text)
    argv = ["compare", str(lm), str(tmp_path / "a"), str(tmp_path / "b")]
    result = runner.invoke(app, [*argv, "--out", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
