"""DigitSum end to end: gen-data, the loader and its errors, training a classifier through
the CLI (evaluation by steps, best by dev accuracy, test of the best checkpoint, gradient
norms, summed loss) and predict --seq."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.data import DATASETS, check_config
from rnnlab.data.digitsum import generate, parse_file
from rnnlab.errors import RnnlabError

runner = CliRunner()
TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny_digitsum.yaml"
LINE = re.compile(r"[0-9]( [0-9])*\t[0-9]{1,2}")


def gen(out: Path, *args: str):
    return runner.invoke(app, ["gen-data", "digitsum", "--out", str(out), *args])


# --- gen-data ---


def test_gen_data_writes_nndl_format(tmp_path):
    result = gen(tmp_path, "--lengths", "5,10")
    assert result.exit_code == 0, result.output
    for length in (5, 10):
        for split, n in (("train", 300), ("dev", 100), ("test", 100)):
            lines = (tmp_path / str(length) / f"{split}.txt").read_text().splitlines()
            assert len(lines) == n and all(LINE.fullmatch(line) for line in lines)
            digits = np.array([[int(d) for d in line.split("\t")[0].split()] for line in lines])
            labels = np.array([int(line.split("\t")[1]) for line in lines])
            assert digits.shape == (n, length)
            assert np.array_equal(labels, digits[:, 0] + digits[:, 1])
            assert ((digits[:, 2:] > 0).sum(1) <= 1).all()  # one random digit at most
            pairs = np.unique(digits[:, :2], axis=0, return_counts=True)[1]
            assert len(pairs) == 100 and (pairs == n // 100).all()  # k copies of each pair


def test_gen_data_is_deterministic_per_seed_and_independent_of_other_lengths(tmp_path):
    gen(tmp_path / "a", "--lengths", "5,10", "--seed", "3")
    gen(tmp_path / "b", "--lengths", "10", "--seed", "3")
    gen(tmp_path / "c", "--lengths", "10", "--seed", "4")
    a, b, c = ((tmp_path / x / "10" / "train.txt").read_bytes() for x in "abc")
    assert a == b and a != c
    dev, test = ((tmp_path / "a" / "10" / f"{s}.txt").read_bytes() for s in ("dev", "test"))
    assert dev != test


def test_gen_data_k_options(tmp_path):
    assert gen(tmp_path, "--lengths", "3", "--k-train", "5", "--k-eval", "2").exit_code == 0
    assert len((tmp_path / "3" / "train.txt").read_text().splitlines()) == 500
    assert len((tmp_path / "3" / "test.txt").read_text().splitlines()) == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lengths", "5,2"], "length must be >= 3"),
        (
            ["--lengths", "5", "--k-train", "0"],
            "--k-train (augmented copies per digit pair) must be >= 1",
        ),
        (["--lengths", "5", "--k-eval", "-1"], "--k-eval"),
        (["--lengths", "5,ten"], "--lengths must be comma-separated integers"),
    ],
)
def test_gen_data_refuses_bad_options_with_one_line(tmp_path, args, message):
    result = gen(tmp_path / "out", *args)
    assert result.exit_code == 2
    assert message in result.output and result.output.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()  # nothing written


# --- the loader ---


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("1 2 0\t3\n4 5 0\t9\n4 x 0\t4\n")
    with pytest.raises(RnnlabError, match=r"train.txt line 3: expected digits"):
        parse_file(path, 3)
    path.write_text("1 2 0\t3\n4 5 0 0\t9\n")
    with pytest.raises(RnnlabError, match="line 2: its length differs"):
        parse_file(path, None)
    path.write_text("1 2 0\t3\n9 9 0\t19\n")
    with pytest.raises(RnnlabError, match="line 2: label 19 is not 0-18"):
        parse_file(path, 3)


def test_parse_reads_what_generate_wrote(tmp_path):
    gen(tmp_path, "--lengths", "7")
    digits, labels = parse_file(tmp_path / "7" / "dev.txt", 7)
    expected, expected_labels = generate(7, 1, 0, "dev")
    assert np.array_equal(digits, expected) and np.array_equal(labels, expected_labels)


def load(write_config, text: str):
    cfg = load_config(write_config(text))
    return DATASETS.get(cfg.data.dataset)().load(cfg)


def test_dataset_from_a_gen_data_folder(write_config, tmp_path):
    gen(tmp_path / "ds", "--lengths", "6")
    data = load(write_config, f"data: {{dataset: digitsum, length: 6, path: {tmp_path / 'ds'}}}\n")
    assert [len(data.split(s)) for s in ("train", "dev", "test")] == [300, 100, 100]
    assert len(data.classes) == 19 and data.vocab.decode([2, 11]) == ["0", "9"]
    train = data.split("train")
    assert (train.lengths == 6).all()
    first = train.ids[:6] - 2  # ids 2..11 are the digits
    assert train.labels[0] == first[0] + first[1]


def test_dataset_is_generated_into_the_data_dir_on_first_use(write_config, fresh_data_dir):
    data = load(write_config, "data: {dataset: digitsum, length: 4}\n")
    assert (fresh_data_dir / "digitsum" / "4" / "train.txt").is_file()
    assert not list((fresh_data_dir / "digitsum").glob(".*"))  # no temporary folder left
    again = load(write_config, "data: {dataset: digitsum, length: 4}\n")
    assert np.array_equal(data.split("test").ids, again.split("test").ids)
    expected = generate(4, 1, 0, "test")[0].reshape(-1) + 2  # gen-data's defaults
    assert np.array_equal(data.split("test").ids, expected)


def test_dataset_errors(write_config, tmp_path):
    with pytest.raises(RnnlabError, match="dataset 'digitsum' needs data.length"):
        check_config(load_config(write_config("data: {dataset: digitsum}\n")))
    with pytest.raises(RnnlabError, match="'data.length' must be >= 3"):
        check_config(load_config(write_config("data: {dataset: digitsum, length: 2}\n")))
    gen(tmp_path / "ds", "--lengths", "5")
    with pytest.raises(RnnlabError, match="must be a gen-data digitsum folder holding 9/"):
        load(write_config, f"data: {{dataset: digitsum, length: 9, path: {tmp_path / 'ds'}}}\n")


# --- training through the CLI ---


@pytest.fixture(scope="module")
def digitsum_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    data = tmp_path_factory.mktemp("digitsum")
    assert gen(data, "--lengths", "5").exit_code == 0
    args = ["train", str(TINY), "--out", str(out), f"data.path={data}", "train.log_grad_norms=true"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_classifier_run_folder(digitsum_run):
    for name in ["config.yaml", "vocab.json", "labels.json", "metrics.csv", "summary.json"]:
        assert (digitsum_run / name).is_file(), name
    for name in ["checkpoints/best.pt", "checkpoints/last.pt", "grad_norms.csv"]:
        assert (digitsum_run / name).is_file(), name
    for name in ["loss", "accuracy", "grad_norms"]:
        assert (digitsum_run / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((digitsum_run / "labels.json").read_text())["classes"][18] == "18"


def test_evaluation_every_n_steps_and_after_the_last(digitsum_run):
    rows = list(csv.DictReader(open(digitsum_run / "metrics.csv")))
    steps = [int(r["step"]) for r in rows]
    # 300 examples in batches of 16: 19 steps an epoch, 3 epochs; eval_every_steps 10
    assert steps == [10, 20, 30, 40, 50, 57]
    assert all(0 <= float(r["dev_acc"]) <= 1 and float(r["train_loss"]) > 0 for r in rows)


def test_best_by_dev_accuracy_and_test_of_the_best_checkpoint(digitsum_run):
    rows = list(csv.DictReader(open(digitsum_run / "metrics.csv")))
    summary = json.loads((digitsum_run / "summary.json").read_text())
    dev = [float(r["dev_acc"]) for r in rows]
    first_best = dev.index(max(dev))
    assert summary["best"]["dev_acc"] == max(dev)
    assert summary["best"]["step"] == int(rows[first_best]["step"])
    best = torch.load(digitsum_run / "checkpoints" / "best.pt", weights_only=True)
    assert best["step"] == summary["best"]["step"]
    assert summary["examples"] == {"train": 300, "dev": 100, "test": 100}
    # the test accuracy is the best checkpoint's, recomputed here
    from rnnlab.tasks import build_task

    cfg = load_config(digitsum_run / "config.yaml")
    task = build_task(cfg, torch.device("cpu"))
    model = task.build_model()
    model.load_state_dict(best["model"])
    assert task.test(model)["test_acc"] == pytest.approx(summary["test"]["test_acc"])


def test_grad_norms_csv_has_a_column_per_parameter_and_a_row_per_step(digitsum_run):
    with open(digitsum_run / "grad_norms.csv") as f:
        header = next(csv.reader(f))
        rows = np.loadtxt(f, delimiter=",")
    model = torch.load(digitsum_run / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert header == ["step", *model.keys()]
    assert rows.shape == (57, 1 + len(model)) and np.array_equal(rows[:, 0], np.arange(1, 58))
    assert (rows[:, 1:] >= 0).all() and (rows[:, 1:] > 0).any(axis=0).all()


def test_summed_loss_scales_the_gradient_by_the_batch_size(tmp_path):
    data = tmp_path / "ds"
    gen(data, "--lengths", "5")
    norms = {}
    for reduction in ("mean", "sum"):
        out = tmp_path / reduction
        args = [f"data.path={data}", "train.log_grad_norms=true", "train.epochs=1"]
        args += [f"train.loss_reduction={reduction}", "data.batch_size=20"]
        result = runner.invoke(app, ["train", str(TINY), "--out", str(out), *args])
        assert result.exit_code == 0, result.output
        run = next(out.iterdir())
        norms[reduction] = np.loadtxt(run / "grad_norms.csv", delimiter=",", skiprows=1)[0, 1:]
    assert np.allclose(norms["sum"], 20 * norms["mean"], rtol=1e-4)  # the first step's


def test_predict_seq_prints_a_sum_and_its_probability(digitsum_run):
    result = runner.invoke(app, ["predict", "--run", str(digitsum_run), "--seq", "3 5 0 0 0"])
    assert result.exit_code == 0, result.output
    label, probability = result.output.split()
    assert 0 <= int(label) <= 18 and 0 < float(probability) <= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--text", "a film"], "--text does not apply to"),
        (["--prefix", "3 5"], "it is a classifier (digitsum); use --seq"),
        (["--seq", "3 15 0"], "--seq takes digits 0-9 separated by spaces, got '15'"),
        (["--seq", "  "], "the input is empty"),
        (["--seq", "1 2", "--text", "x"], "give exactly one of"),
    ],
)
def test_predict_refuses_the_wrong_option_for_the_task(digitsum_run, args, message):
    result = runner.invoke(app, ["predict", "--run", str(digitsum_run), *args])
    assert result.exit_code == 2 and message in result.output
    assert result.output.strip().count("\n") == 0


def test_gen_data_and_its_errors_do_not_import_torch(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\nfrom rnnlab.cli import app\n"
        "for args in (['gen-data', 'digitsum', '--lengths', '2', '--out', 'x'],\n"
        f"             ['gen-data', 'digitsum', '--lengths', '4', '--out', {str(tmp_path)!r}],\n"
        "             ['gen-data', '--help'], ['predict', '--help']):\n"
        "    try:\n        app(args)\n    except SystemExit:\n        pass\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert (tmp_path / "4" / "test.txt").is_file()


def test_a_digitsum_sweep_over_lengths_reports_test_accuracy(tmp_path, fresh_data_dir):
    args = ["sweep", str(TINY), "train.epochs=1", "--grid", "data.length=4,6", "--workers", "2"]
    result = runner.invoke(app, [*args, "--grid", "model.cell=lstm", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    sweep = Path(result.output.strip().splitlines()[-1])
    rows = list(csv.DictReader(open(sweep / "results.csv")))
    assert len(rows) == 2 and all(r["status"] == "finished" for r in rows)
    assert all(0 <= float(r["test_acc"]) <= 1 and float(r["best_dev_acc"]) >= 0 for r in rows)
    assert (sweep / "plots" / "test_acc.png").is_file()  # test accuracy against length
