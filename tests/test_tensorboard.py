"""`train.tensorboard`: the event files, read back with TensorBoard's own
EventAccumulator, hold every metrics.csv column at metrics.csv's steps with its values,
the learning rate, the samples as text, gradient norms and the HParams; a resumed run
appends without writing a step twice (even one an earlier process wrote after last.pt)."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnlab.cli import app

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "configs" / "tiny.yaml")
runner = CliRunner()


def invoke(*argv: str) -> Path:
    result = runner.invoke(app, [*argv, "--quiet"])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def events(run: Path):  # an EventAccumulator (tensorboard imported here: a second to load)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    return acc.Reload()


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def check_against_metrics_csv(acc, run: Path) -> None:
    rows = metrics(run)
    steps = [int(r["step"]) for r in rows]
    for column in rows[0]:
        if column == "step":
            continue
        scalars = acc.Scalars(f"metrics/{column}")
        assert [e.step for e in scalars] == steps, column  # once each, in order
        for event, row in zip(scalars, rows):
            assert event.value == pytest.approx(float(row[column]), rel=1e-6), column
    assert [e.step for e in acc.Scalars("lr")] == steps


def test_events_match_metrics_csv_samples_grad_norms_and_hparams(tmp_path):
    run = invoke(
        "train", TINY, "train.log_grad_norms=true", "--out", str(tmp_path), "--tensorboard"
    )
    acc = events(run)
    check_against_metrics_csv(acc, run)
    rows = metrics(run)
    columns = {f"metrics/{c}" for c in rows[0] if c != "step"}
    tags = set(acc.Tags()["scalars"])
    assert columns | {"lr"} <= tags
    # gradient norms: every step of grad_norms.csv, every parameter
    with open(run / "grad_norms.csv", newline="") as f:
        grads = list(csv.DictReader(f))
    names = [n for n in grads[0] if n != "step"]
    assert {f"grad_norm/{n}" for n in names} <= tags
    first = acc.Scalars(f"grad_norm/{names[0]}")
    assert [e.step for e in first] == [int(g["step"]) for g in grads]
    assert first[-1].value == pytest.approx(float(grads[-1][names[0]]), rel=1e-5)
    # samples: tiny.yaml samples at epochs 2 and 3, at those epochs' last steps
    samples = acc.Tensors("samples/text_summary")
    epoch_end = {int(r["epoch"]): int(r["step"]) for r in rows}
    assert [e.step for e in samples] == [epoch_end[2], epoch_end[3]]
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.util import tensor_util

    last_text = tensor_util.make_ndarray(samples[-1].tensor_proto).item().decode()
    written = (run / "samples.txt").read_text().splitlines()[-1].split("\t", 1)[1]
    assert written in last_text
    # HParams: the config and the final, best metrics
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["model.cell"].string_value == "gru"
    assert start.hparams["model.hidden_size"].number_value == 16
    assert start.hparams["status"].string_value == "finished"
    summary = json.loads((run / "summary.json").read_text())
    best = acc.Scalars("hparams/best_val_ppl")
    assert best[-1].value == pytest.approx(summary["best"]["val_ppl"], rel=1e-6)
    assert acc.Scalars("hparams/final_train_ppl")[-1].value == pytest.approx(
        summary["final"]["train_ppl"], rel=1e-6
    )


def test_a_classifier_has_its_test_metrics_in_hparams(tmp_path):
    cfg = str(REPO / "configs" / "tiny_digitsum.yaml")
    run = invoke("train", cfg, "train.epochs=1", "train.tensorboard=true", "--out", str(tmp_path))
    acc = events(run)
    check_against_metrics_csv(acc, run)
    summary = json.loads((run / "summary.json").read_text())
    assert acc.Scalars("hparams/test_acc")[-1].value == pytest.approx(summary["test"]["test_acc"])
    assert acc.Scalars("hparams/best_dev_acc")[-1].value == pytest.approx(
        summary["best"]["dev_acc"]
    )


def test_resume_appends_without_duplicate_steps(tmp_path):
    """Epochs 1-2, then 3; then last.pt goes back to epoch 2, as if the process had been
    killed after writing epoch 3's events but before its last.pt; resuming to 4 epochs
    leaves every step once, with the values of the final metrics.csv."""
    run = invoke("train", TINY, "train.epochs=2", "--tensorboard", "--out", str(tmp_path))
    shutil.copy(run / "checkpoints" / "last.pt", tmp_path / "epoch2.pt")
    invoke("train", "--resume", str(run), "train.epochs=3")
    assert len(metrics(run)) == 3
    shutil.copy(tmp_path / "epoch2.pt", run / "checkpoints" / "last.pt")
    invoke("train", "--resume", str(run), "train.epochs=4")
    assert [int(r["epoch"]) for r in metrics(run)] == [1, 2, 3, 4]
    check_against_metrics_csv(events(run), run)


def test_tensorboard_turned_on_at_resume_writes_the_earlier_rows(tmp_path):
    run = invoke("train", TINY, "train.epochs=2", "--out", str(tmp_path))
    assert not (run / "tensorboard").exists()
    invoke("train", "--resume", str(run), "train.epochs=3", "--tensorboard")
    check_against_metrics_csv(events(run), run)


def test_without_tensorboard_installed_the_key_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    result = runner.invoke(app, ["train", TINY, "--tensorboard", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "pip install 'rnnlab[tensorboard]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
