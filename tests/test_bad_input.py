"""Bad input, one table: every user mistake is one clear line on stderr naming
the problem, exit code 2, no traceback, and nothing written.

Each case is (argv, files to write first, a substring the message must contain). Placeholders
in argv and file texts: {tmp} (the case's folder), {out} (the --out folder), {lm_run} and
{cls_run} (tiny trained runs shared by the module, never written to), {copy} (a copy of
{lm_run} that the case's `setup` may break). Most cases run in-process with CliRunner; a
handful also run as `python -m rnnlab` subprocesses (the honest check for tracebacks).
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnlab.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

LM = """\
name: bad
data: {dataset: timemachine, batch_size: 4, num_steps: 10, max_tokens: 2000}
model: {cell: gru, hidden_size: 8}
optim: {name: adam, lr: 0.01}
train: {epochs: 1, sample_len: 5}
"""
TEXT = LM.replace("dataset: timemachine", "dataset: text, path: {tmp}/corpus.txt")
DIGITSUM = "name: bad\ndata: {dataset: digitsum, length: 3, path: {tmp}/ds}\ntrain: {epochs: 1}\n"
CSV = "name: bad\ndata: {dataset: csv, path: {tmp}/reviews.csv}\ntrain: {epochs: 1}\n"
SWEEP_YAML = "grid: {model.cell: [gru]}\nseeds: [0]\nworkers: 1\n"
GOOD_DIGITS = "".join(f"{a} {b} 0\t{a + b}\n" for a in range(10) for b in range(10))


def case(id, argv, expected, files=None, setup=None):
    return pytest.param(argv, files or {}, expected, setup, id=id)


def train(id, config, expected, *overrides, files=None):
    """`rnnlab train {tmp}/config.yaml OVERRIDES --out {out}` with `config` as the file."""
    argv = ["train", "{tmp}/config.yaml", *overrides, "--out", "{out}"]
    return case(id, argv, expected, {"config.yaml": config, **(files or {})})


def override(id, item, expected, *more):
    """A good config with bad overrides."""
    return train(id, LM, expected, item, *more)


def predict(id, expected, *options, run="{lm_run}", setup=None, files=None):
    return case(id, ["predict", "--run", run, *options], expected, files, setup)


def evaluate(id, expected, *options, run="{lm_run}", setup=None):
    return case(id, ["evaluate", run, *options], expected, setup=setup)


def gen(id, expected, *options):
    return case(id, ["gen-data", "digitsum", "--out", "{out}", *options], expected)


def sweep(id, expected, *options, config=LM):
    argv = ["sweep", "{tmp}/config.yaml", *options, "--out", "{out}"]
    return case(id, argv, expected, {"config.yaml": config})


# --- inputs that would cost unbounded resources, run folders changed under rnnlab ---
def alias_bomb() -> str:
    """Nine levels of anchors, each nine aliases of the one before: 1.6 KB for 9**9 values."""
    lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 9)]
    return LM + "sweep:\n  grid:\n" + "".join(f"    {line}\n" for line in lines)


def zip_declaring(size: int) -> bytes:
    """A tiny zip of jaychou_lyrics.txt whose central directory declares `size` bytes."""
    import io
    import struct
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("jaychou_lyrics.txt", "歌词")
    raw = bytearray(buffer.getvalue())
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, size)  # uncompressed size
    return bytes(raw)


def edited_lr(run: Path) -> None:
    path = run / "config.yaml"
    path.write_text(path.read_text().replace("lr: 0.01", "lr: 0.5"))


def edited_vocab(run: Path) -> None:
    path = run / "vocab.json"
    path.write_text(path.read_text().replace('"a"', '"A"'))


def empty_vocab(run: Path) -> None:
    (run / "vocab.json").write_text('{"idx_to_token": []}')


def checkpoint_without_epoch(run: Path) -> None:
    import torch

    path = run / "checkpoints" / "last.pt"
    ckpt = torch.load(path, weights_only=True)
    del ckpt["epoch"]
    torch.save(ckpt, path)


def resume(id, expected, setup, *overrides):
    return case(id, ["train", "--resume", "{copy}", *overrides], expected, setup=setup)


BIG_GRID = ",".join(str(n) for n in range(1, 302))


# --- breaking a copy of the trained language model's run folder ---
def no_checkpoints(run: Path) -> None:
    shutil.rmtree(run / "checkpoints")


def wider_config(run: Path) -> None:
    path = run / "config.yaml"
    path.write_text(path.read_text().replace("hidden_size: 8", "hidden_size: 12"))


def truncated_checkpoint(run: Path) -> None:
    path = run / "checkpoints" / "best.pt"
    path.write_bytes(path.read_bytes()[:300])


def garbage_checkpoint(run: Path) -> None:
    (run / "checkpoints" / "best.pt").write_bytes(b"not a checkpoint\n" * 40)


def broken_run_config(run: Path) -> None:
    (run / "config.yaml").write_text("model: {hidden_size: 8\n")


def no_vocab(run: Path) -> None:
    (run / "vocab.json").unlink()


def run_config_a_list(run: Path) -> None:
    (run / "config.yaml").write_text("- model\n")


def run_config_not_utf8(run: Path) -> None:
    (run / "config.yaml").write_bytes(b"name: \xff\n")


def inflating_checkpoint(run: Path) -> None:
    """best.pt rewritten with its records deflated and one record grown to 32 MiB of
    zeros: a file of a few hundred KiB that would inflate to 32 MiB on loading."""
    path = run / "checkpoints" / "best.pt"
    with zipfile.ZipFile(path) as old:
        records = [(info.filename, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in records:
            grown = b"\0" * 2**25 if name.endswith("/data/0") else data
            new.writestr(name, grown)


def legacy_pickle_checkpoint(run: Path) -> None:
    import torch

    path = run / "checkpoints" / "best.pt"
    payload = torch.load(path, weights_only=True)
    path.write_bytes(pickle.dumps(payload))  # a plain pickle, not torch.save's zip


def summary_a_fifo(run: Path) -> None:
    (run / "summary.json").unlink()
    os.mkfifo(run / "summary.json")


def metrics_a_fifo(run: Path) -> None:
    (run / "metrics.csv").unlink()
    os.mkfifo(run / "metrics.csv")


def oversized_checkpoint(run: Path) -> None:
    """best.pt holding 80 MB of weights: far more than the tiny model's config implies."""
    import torch

    torch.save({"model": {"x": torch.zeros(20_000_000)}}, run / "checkpoints" / "best.pt")


CASES = [
    # --- the command line itself (click's usage errors) ---
    case("unknown-option", ["train", "{tmp}/c.yaml", "--bogus"], "No such option: --bogus"),
    case("missing-argument", ["compare"], "Missing argument 'paths'"),
    case("train-without-config", ["train"], "give a config to train, or --resume RUN_DIR"),
    case("missing-option", ["gen-data", "digitsum", "--lengths", "5"], "Missing option '--out'"),
    case(
        "option-not-an-integer",
        ["predict", "--num-chars", "abc"],
        "Invalid value for '--num-chars'",
    ),
    case(
        "option-without-value",
        ["predict", "--prefix", "t", "--checkpoint"],
        "'--checkpoint' requires an argument",
    ),
    # --- the config file ---
    case("config-missing", ["train", "{tmp}/nope.yaml", "--out", "{out}"], "config file not found"),
    case("config-is-a-folder", ["train", "{tmp}", "--out", "{out}"], "config file not found"),
    train(
        "yaml-syntax",
        "data:\n  batch_size: [4, 8\nmodel: {}\n",
        "config.yaml: line 3, column 6: YAML syntax error",
    ),
    train("yaml-bad-indent", "name: a\n  seed: 1\n", "line 2, column 7: YAML syntax error"),
    train("config-a-list", "- data\n- model\n", "must be a mapping of sections, got a list"),
    train("config-a-scalar", "42\n", "must be a mapping of sections, got an integer"),
    train("config-empty-file", "", "config.yaml is empty"),
    train("config-not-utf8", "name: caf\xe9\n".encode("latin-1"), "config is not UTF-8"),
    train("section-not-a-mapping", "data: 5\n", "'data' must be a mapping of keys, got an int"),
    # --- unknown keys, at every level, with a suggestion ---
    train("unknown-top-key", LM + "nmae: x\n", "unknown key 'nmae'; did you mean 'name'?"),
    train("unknown-section", "modle: {cell: gru}\n", "unknown key 'modle'; did you mean 'model'?"),
    train(
        "unknown-data-key",
        "data: {batch_sise: 4}\n",
        "unknown key 'data.batch_sise'; did you mean 'data.batch_size'?",
    ),
    train(
        "unknown-model-key",
        "model: {hiden_size: 8}\n",
        "unknown key 'model.hiden_size'; did you mean 'model.hidden_size'?",
    ),
    train(
        "unknown-optim-key",
        "optim: {lrr: 0.1}\n",
        "unknown key 'optim.lrr'; did you mean 'optim.lr'?",
    ),
    train(
        "unknown-train-key",
        "train: {epoch: 3}\n",
        "unknown key 'train.epoch'; did you mean 'train.epochs'?",
    ),
    train(
        "unknown-sweep-key",
        "sweep: {seed: [1]}\n",
        "unknown key 'sweep.seed'; did you mean 'sweep.seeds'?",
    ),
    # --- overrides ---
    override(
        "override-unknown-key",
        "model.hiden_size=128",
        "unknown override key 'model.hiden_size'; did you mean 'model.hidden_size'?",
    ),
    override("override-unknown-section", "modle.cell=gru", "unknown override key 'modle.cell'"),
    override("override-into-a-value", "seed.x=1", "'seed' is a value, not a section"),
    override(
        "override-without-equals", "model.hidden_size", "'model.hidden_size' is not KEY=VALUE"
    ),
    override("override-empty-key", "=3", "'=3' is not KEY=VALUE"),
    override(
        "override-conflict",
        "optim.lr=0.1",
        "conflicting overrides for 'optim.lr': 0.1 and 0.2",
        "optim.lr=0.2",
    ),
    # --- wrong types ---
    override("string-for-int", "model.hidden_size=big", "'model.hidden_size' must be an integer"),
    override(
        "float-for-int", "data.batch_size=3.5", "'data.batch_size' must be an integer, got a number"
    ),
    override(
        "bool-for-int", "train.epochs=true", "'train.epochs' must be an integer, got a boolean"
    ),
    override("list-for-float", "optim.lr=[0.1,0.2]", "'optim.lr' must be a number, got a list"),
    override(
        "boolish-string", "model.bidirectional=maybe", "'model.bidirectional' must be true or false"
    ),
    train(
        "quoted-bool",
        "model: {bidirectional: 'true'}\n",
        "'model.bidirectional' must be true or false",
    ),
    train(
        "int-for-bool", "model: {bidirectional: 1}\n", "'model.bidirectional' must be true or false"
    ),
    train("string-for-list", "train: {prefixes: time}\n", "'train.prefixes' must be a list"),
    # --- out of range ---
    override("batch-size-0", "data.batch_size=0", "'data.batch_size' must be > 0, got 0"),
    override("num-steps-0", "data.num_steps=0", "'data.num_steps' must be > 0, got 0"),
    override(
        "hidden-size-negative", "model.hidden_size=-8", "'model.hidden_size' must be > 0, got -8"
    ),
    override("lr-0", "optim.lr=0", "'optim.lr' must be > 0, got 0"),
    override("lr-negative", "optim.lr=-0.5", "'optim.lr' must be > 0, got -0.5"),
    override("lr-overflows-float32", "optim.lr=1e38", "'optim.lr' must be <= 1e+30, got 1e+38"),
    override("epochs-0", "train.epochs=0", "'train.epochs' must be > 0, got 0"),
    override("dropout-1", "model.dropout=1.0", "'model.dropout' must be < 1, got 1.0"),
    override("dropout-negative", "model.dropout=-0.1", "'model.dropout' must be >= 0, got -0.1"),
    override("valid-fraction-0", "data.valid_fraction=0", "'data.valid_fraction' must be > 0"),
    override("valid-fraction-1", "data.valid_fraction=1", "'data.valid_fraction' must be < 1"),
    override("embedding-0", "model.embedding=0", "'model.embedding' must be one_hot or > 0"),
    override("name-with-a-slash", "name=a/b", "'name' starts the run folder's name: no '/'"),
    override("name-null", "name=", "'name' must be a string, got null"),
    override("seed-negative", "seed=-1", "'seed' must be >= 0, got -1"),
    override(
        "seed-too-big", "seed=100000000000000000000000", "'seed' must be < 9223372036854775808"
    ),
    override(
        "model-too-big-for-memory",
        "model.hidden_size=10000000",  # 1.2 PB of weights: more than any address space
        "the model does not fit in memory",
    ),
    override("device-unknown", "device=gpu", "'device' must be auto, cpu, cuda, cuda:N or mps"),
    # --- unknown names, with a suggestion ---
    override(
        "unknown-dataset",
        "data.dataset=timemachin",
        "unknown dataset 'timemachin'; did you mean 'timemachine'?",
    ),
    override(
        "unknown-cell",
        "model.cell=gruu",
        "'model.cell' must be one of gru | indrnn | lru | lstm | mgu | mingru | minlstm | rnn | s6, got 'gruu'; did you mean 'gru'?",
    ),
    override("unknown-optimizer", "optim.name=adamm", "got 'adamm'; did you mean 'adam'?"),
    override("unknown-impl", "model.impl=scrach", "got 'scrach'; did you mean 'scratch'?"),
    override("unknown-sampling", "data.sampling=randm", "got 'randm'; did you mean 'random'?"),
    # --- options that do not go together ---
    override(
        "residual-on-gru", "model.residual=true", "'model.residual: true' is nndl's residual SRN"
    ),
    override(
        "cell-without-a-torch-layer",
        "model.cell=mgu",
        "model.cell: mgu has no torch.nn layer: set model.impl: scratch",
    ),
    override("text-without-path", "data.dataset=text", "dataset 'text' needs data.path"),
    # --- language-model data ---
    override("ptb-char-level", "data.dataset=ptb", "dataset 'ptb' is word level"),
    override("eos-on-characters", "data.eos=true", "data.eos applies to word tokens"),
    override(
        "eos-with-newlines-as-spaces",
        "data.token=word",
        "data.eos: true ends each line with <eos>: not with data.newlines: space",
        "data.eos=true",
        "data.newlines=space",
    ),
    override(
        "newlines-unknown", "data.newlines=lines", "'data.newlines' must be keep | space or null"
    ),
    override("eval-batch-size-0", "data.eval_batch_size=0", "'data.eval_batch_size' must be > 0"),
    override("restart-every-0", "data.restart_every=0", "'data.restart_every' must be > 0"),
    train(
        "split-folder-without-train",
        LM.replace("dataset: timemachine", "dataset: text, path: {tmp}/corpus"),
        "{tmp}/corpus has no train file",
        files={"corpus/valid.txt": "a b c\n", "corpus/test.txt": "a b\n"},
    ),
    train(
        "split-folder-valid-one-token",
        TEXT.replace("{tmp}/corpus.txt", "{tmp}/corpus"),
        "the valid text of {tmp}/corpus has 1 token(s); evaluating needs at least 2",
        files={"corpus/train.txt": "a b c " * 200, "corpus/valid.txt": "a"},
    ),
    train(
        "split-folder-two-train-files",
        LM.replace("dataset: timemachine", "dataset: text, path: {tmp}/corpus"),
        "has several train files (wiki.train.raw, wiki.train.tokens)",
        files={
            f"corpus/wiki.{s}": "a b c\n" for s in ("train.raw", "train.tokens", "valid.tokens")
        },
    ),
    override(
        "digitsum-without-length", "data.dataset=digitsum", "dataset 'digitsum' needs data.length"
    ),
    # --- training techniques ---
    override(
        "tied-sizes-differ",
        "model.tie_weights=true",
        "needs the embedding size (12) to equal the last layer's output size (8)",
        "model.embedding=12",
    ),
    override("tied-one-hot", "model.tie_weights=true", "needs a learned model.embedding of size 8"),
    override(
        "cutoffs-not-increasing",
        "model.softmax=adaptive",
        "'model.adaptive_cutoffs' must be positive and increasing, got [10, 5]",
        "model.adaptive_cutoffs=[10,5]",
    ),
    override(
        "cutoffs-past-the-vocabulary",
        "model.softmax=adaptive",
        "must stay below the vocabulary size",
        "model.adaptive_cutoffs=[5,40]",
    ),
    override("adaptive-without-cutoffs", "model.softmax=adaptive", "needs model.adaptive_cutoffs"),
    override(
        "schedule-key-without-schedule",
        "optim.gamma=0.5",
        "'optim.gamma' belongs to optim.schedule: step, not to optim.schedule: none",
    ),
    override(
        "schedule-key-of-another-schedule",
        "optim.schedule=cosine",
        "'optim.factor' belongs to optim.schedule: plateau, not to optim.schedule: cosine",
        "optim.factor=4",
    ),
    override(
        "plateau-factor-a-multiplier",
        "optim.schedule=plateau",
        "'optim.factor' must be > 1, got 0.25",
        "optim.factor=0.25",
    ),
    override(
        "time-limit-unparsable",
        "train.time_limit=10min",
        "'train.time_limit' must be a duration like 90s, 10m, 2h or 1h30m, got '10min'",
    ),
    override("time-limit-without-unit", "train.time_limit=90", "needs a unit (90s, 10m, 2h)"),
    override(
        "average-decay-without-ema",
        "optim.average=uniform",
        "'optim.average_decay' is for optim.average: ema, not uniform",
        "optim.average_decay=0.99",
    ),
    override("average-start-without-average", "optim.average_start=10", "uniform or ema"),
    override(
        "embed-dropout-on-one-hot", "model.embed_dropout=0.2", "set a learned model.embedding"
    ),
    override(
        "token-dropout-on-one-hot", "model.token_dropout=0.1", "set a learned model.embedding"
    ),
    override("locked-without-dropout", "model.locked_dropout=true", "set one of them above 0"),
    override("init-range-without-uniform", "model.init_range=0.05", "for model.init: uniform"),
    train(
        "lm-regulariser-on-a-classifier",
        DIGITSUM.replace("train:", "model: {weight_drop: 0.2}\ntrain:"),
        "'model.weight_drop' is for language models; dataset 'digitsum' trains a classifier",
    ),
    train(
        "temporal-ar-on-a-classifier",
        DIGITSUM.replace("train:", "model: {tar: 1.0}\ntrain:"),
        "'model.tar' is for language models; dataset 'digitsum' trains a classifier",
    ),
    override("ar-negative", "model.ar=-1", "'model.ar'"),
    # --- data files ---
    override(
        "timemachine-path-missing",
        "data.path={tmp}/missing.txt",
        "data file not found: {tmp}/missing.txt",
    ),
    train("text-path-missing", TEXT, "data file not found: {tmp}/corpus.txt"),
    train(  # a folder is a split folder now: it needs its train file
        "text-path-a-folder", TEXT, "corpus.txt has no train file", files={"corpus.txt/a": "x"}
    ),
    train("csv-path-missing", CSV, "CSV data not found: {tmp}/reviews.csv"),
    override(
        "imdb-path-missing",
        "data.dataset=imdb",
        "IMDB data not found at {tmp}/imdb",
        "data.path={tmp}/imdb",
    ),
    train("digitsum-path-missing", DIGITSUM, "{tmp}/ds/3 not found: data.path must be a gen-data"),
    override(
        "jaychou-path-missing",
        "data.dataset=jaychou",
        "{tmp}/lyrics.zip is not the Jay Chou lyrics zip",
        "data.path={tmp}/lyrics.zip",
    ),
    train(
        "corpus-empty", TEXT, "has no tokens: {tmp}/corpus.txt is empty", files={"corpus.txt": ""}
    ),
    train(
        "corpus-shorter-than-a-batch",
        TEXT,
        "fewer than one batch needs ((batch_size + 1) * num_steps + 1 = 51)",
        files={"corpus.txt": "a short text\n"},
    ),
    train(
        "corpus-not-utf8",
        TEXT,
        "corpus.txt is not UTF-8 text (byte 3 cannot be decoded)",
        files={"corpus.txt": b"caf\xe9 " * 200},
    ),
    train(
        "digitsum-malformed-line",
        DIGITSUM,
        "{tmp}/ds/3/train.txt line 3: expected digits separated by spaces",
        files={"ds/3/train.txt": "1 2 0\t3\n4 5 0\t9\n4 x 0\t9\n"},
    ),
    train(
        "digitsum-label-out-of-range",
        DIGITSUM,
        "{tmp}/ds/3/train.txt line 2: label 25 is not 0-18",
        files={"ds/3/train.txt": "1 2 0\t3\n9 9 7\t25\n"},
    ),
    train(
        "digitsum-ragged-lengths",
        DIGITSUM,
        "{tmp}/ds/3/dev.txt line 2: its length differs from line 1's",
        files={"ds/3/train.txt": GOOD_DIGITS, "ds/3/dev.txt": "1 2 0\t3\n1 2 0 0\t3\n"},
    ),
    train(
        "digitsum-split-missing",
        DIGITSUM,
        "DigitSum file not found: {tmp}/ds/3/dev.txt",
        files={"ds/3/train.txt": GOOD_DIGITS},
    ),
    train(
        "imdb-split-missing",
        LM,
        "{tmp}/imdb: no test/neg/*.txt reviews",
        "data.dataset=imdb",
        "data.path={tmp}/imdb",
        files={f"imdb/{split}/1.txt": "a film" for split in ("train/pos", "train/neg", "test/pos")},
    ),
    train(
        "csv-column-missing",
        CSV,
        "reviews.csv has no column 'text' (data.text_column)",
        files={"reviews.csv": "review,label\ngood,pos\nbad,neg\n"},
    ),
    train(
        "csv-one-label",
        CSV,
        "a classifier needs at least 2 labels",
        files={"reviews.csv": "text,label\ngood,pos\nfine,pos\n"},
    ),
    train(
        "csv-ragged-row",
        CSV,
        "reviews.csv line 3: 1 fields, the header has 2",
        files={"reviews.csv": "text,label\ngood,pos\nbad\n"},
    ),
    train(
        "imdb-not-a-zip",
        LM,
        "{tmp}/imdb.zip is not a readable zip archive",
        "data.dataset=imdb",
        "data.path={tmp}/imdb.zip",
        files={"imdb.zip": b"PK, but not really"},
    ),
    train(
        "imdb-not-an-archive",
        LM,
        "IMDB data must be a folder, a .tar.gz or a .zip archive",
        "data.dataset=imdb",
        "data.path={tmp}/imdb.txt",
        files={"imdb.txt": "a film"},
    ),
    train(
        "jaychou-not-a-zip",
        LM,
        "{tmp}/lyrics.zip is not the Jay Chou lyrics zip",
        "data.dataset=jaychou",
        "data.path={tmp}/lyrics.zip",
        files={"lyrics.zip": "lyrics"},
    ),
    train(
        "csv-not-utf8",
        CSV,
        "reviews.csv is not UTF-8 text",
        files={"reviews.csv": b"text,label\n\xff\xfe,pos\nbad,neg\n"},
    ),
    # --- where the run folder goes ---
    case(
        "out-is-a-file",
        ["train", "{tmp}/config.yaml", "--out", "{tmp}/taken"],
        "cannot create a run folder under {tmp}/taken: a file is in the way",
        files={"config.yaml": LM, "taken": "a file"},
    ),
    case(
        "run-dir-exists",
        ["train", "{tmp}/config.yaml", "--run-dir", "{tmp}/old"],
        "run folder {tmp}/old already exists; it is never overwritten",
        files={"config.yaml": LM, "old/metrics.csv": "epoch\n1\n"},
    ),
    # --- predict ---
    predict(
        "run-missing",
        "run folder not found: {tmp}/no-such-run",
        "--prefix",
        "t",
        run="{tmp}/no-such-run",
    ),
    predict(
        "run-is-a-file",
        "{tmp}/run.txt is not an rnnlab run folder",
        "--prefix",
        "t",
        run="{tmp}/run.txt",
        files={"run.txt": "x"},
    ),
    predict(
        "run-not-a-run",
        "is not an rnnlab run folder (no config.yaml)",
        "--prefix",
        "t",
        run="{tmp}",
    ),
    predict(
        "run-without-checkpoint",
        "no checkpoint at {copy}/checkpoints/best.pt",
        "--prefix",
        "t",
        run="{copy}",
        setup=no_checkpoints,
    ),
    predict(
        "checkpoint-architecture-differs",
        "config.yaml is not the config best.pt was trained with (model.hidden_size: 8 in the "
        "checkpoint, 12 now)",
        "--prefix",
        "t",
        run="{copy}",
        setup=wider_config,
    ),
    predict(
        "checkpoint-truncated",
        "best.pt is truncated or not a checkpoint",
        "--prefix",
        "t",
        run="{copy}",
        setup=truncated_checkpoint,
    ),
    predict(
        "checkpoint-garbage",
        "best.pt is truncated or not a checkpoint",
        "--prefix",
        "t",
        run="{copy}",
        setup=garbage_checkpoint,
    ),
    predict(
        "run-config-broken",
        "config.yaml: line 2, column 1: YAML syntax error",
        "--prefix",
        "t",
        run="{copy}",
        setup=broken_run_config,
    ),
    predict(
        "run-vocab-missing",
        "{copy}/vocab.json is missing; best.pt holds it: restore it with rnnlab train --resume",
        "--prefix",
        "t",
        run="{copy}",
        setup=no_vocab,
    ),
    predict(
        "prefix-unknown-chars",
        "the prefix has chars not in the vocabulary: 'Ø'",
        "--prefix",
        "time Ø",
    ),
    predict("prefix-empty", "the prefix is empty", "--prefix", ""),
    predict("stop-at-eos-without-eos", "has no <eos> token", "--prefix", "time", "--stop-at-eos"),
    predict(
        "num-chars-negative",
        "--num-chars must be >= 0, got -1",
        "--prefix",
        "t",
        "--num-chars",
        "-1",
    ),
    predict(
        "checkpoint-middle",
        "--checkpoint must be best or last, got 'middle'",
        "--prefix",
        "t",
        "--checkpoint",
        "middle",
    ),
    predict(
        "temperature-negative", "--temperature must be >= 0", "--prefix", "t", "--temperature", "-1"
    ),
    predict(
        "predict-seed-too-big",
        "--seed must be >= 0 (and < 2**63)",
        "--prefix",
        "t",
        "--seed",
        str(2**64),
    ),
    predict("top-k-0", "--top-k must be >= 1, got 0", "--prefix", "t", "--top-k", "0"),
    predict("text-on-a-language-model", "--text does not apply to", "--text", "a fine film"),
    predict("two-inputs", "give exactly one of --prefix", "--prefix", "t", "--seq", "1 2 3"),
    predict("no-input", "give exactly one of --prefix"),
    predict(
        "prefix-on-a-classifier",
        "it is a classifier (digitsum); use --seq",
        "--prefix",
        "1",
        run="{cls_run}",
    ),
    predict(
        "seq-not-digits",
        "--seq takes digits 0-9 separated by spaces, got 'x'",
        "--seq",
        "1 x 3",
        run="{cls_run}",
    ),
    predict("seq-empty", "the input is empty", "--seq", " ", run="{cls_run}"),
    # --- inspect ---
    case(
        "inspect-run-without-checkpoint",
        ["inspect", "{copy}"],
        "no checkpoint at {copy}/checkpoints/best.pt",
        setup=no_checkpoints,
    ),
    case(
        "inspect-unit-out-of-range",
        ["inspect", "{lm_run}", "--unit", "1:8", "--out", "{out}"],
        "--unit 1:8 is out of range: this model has layers 1-1 of units 0-7",
    ),
    case(
        "inspect-unit-malformed",
        ["inspect", "{lm_run}", "--unit", "first", "--out", "{out}"],
        "--unit takes LAYER:UNIT, e.g. 1:17",
    ),
    case(
        "inspect-text-unknown-chars",
        ["inspect", "{lm_run}", "--text", "time Ø", "--out", "{out}"],
        "--text has chars the model never saw: 'Ø'",
    ),
    case(
        "inspect-seq-wrong-length",
        ["inspect", "{cls_run}", "--seq", "1 2 3", "--out", "{out}"],
        "--seq has 3 digits; this model reads sequences of 5",
    ),
    case(
        "inspect-seq-not-digits",
        ["inspect", "{cls_run}", "--seq", "1 x 3 0 0", "--out", "{out}"],
        "--seq takes digits 0-9 separated by spaces, got 'x'",
    ),
    case(
        "inspect-unit-on-a-classifier",
        ["inspect", "{cls_run}", "--unit", "1:0", "--out", "{out}"],
        "--unit 1:0 applies to language models (the units page)",
    ),
    override(
        "grad-flow-with-adaptive-softmax",
        "train.log_grad_flow=true",
        "'train.log_grad_flow' measures models with model.softmax: full, not adaptive",
        "model.softmax=adaptive",
        "model.adaptive_cutoffs=[10]",
        "model.embedding=8",
    ),
    case(
        "inspect-seq-on-a-language-model",
        ["inspect", "{lm_run}", "--seq", "1 2 3", "--out", "{out}"],
        "--seq does not apply to",
    ),
    case(
        "inspect-two-inputs",
        ["inspect", "{lm_run}", "--text", "time", "--split", "valid"],
        "give at most one of --text, --seq and --split",
    ),
    case(
        "inspect-several-runs-without-grad-flow",
        ["inspect", "{lm_run}", "{cls_run}", "--out", "{out}"],
        "several runs are compared by their gradient flow only: add --grad-flow",
    ),
    case(
        "inspect-split-unknown",
        ["inspect", "{lm_run}", "--split", "dev", "--out", "{out}"],
        "--split must be one of valid, train, got 'dev'",
    ),
    case(
        "inspect-test-without-a-test-split",
        ["inspect", "{lm_run}", "--split", "test", "--out", "{out}"],
        "timemachine has no test split here (ptb and split folders with a test file have "
        "one): use --split valid",
    ),
    # --- evaluate ---
    evaluate(
        "evaluate-run-without-checkpoint",
        "no checkpoint at {copy}/checkpoints/best.pt",
        run="{copy}",
        setup=no_checkpoints,
    ),
    evaluate(
        "evaluate-test-without-a-test-split",
        "timemachine has no test split here (ptb and split folders with a test file have "
        "one): use --split valid",
        "--split",
        "test",
    ),
    evaluate(
        "evaluate-split-unknown", "--split must be valid or test, got 'train'", "--split", "train"
    ),
    evaluate(
        "evaluate-lr-without-dynamic",
        "--lr applies to dynamic evaluation: add --dynamic",
        "--lr",
        "0.1",
    ),
    evaluate(
        "evaluate-rule-unknown",
        "--rule must be rms or sgd, got 'adam'",
        "--dynamic",
        "--rule",
        "adam",
    ),
    evaluate(
        "evaluate-lr-negative",
        "--lr must be a positive number, got -1.0",
        "--dynamic",
        "--lr",
        "-1",
    ),
    evaluate("evaluate-decay-1", "--decay must be in [0, 1), got 1.0", "--dynamic", "--decay", "1"),
    evaluate("evaluate-segment-0", "--segment must be >= 1, got 0", "--dynamic", "--segment", "0"),
    evaluate(
        "evaluate-checkpoint-unknown",
        "--checkpoint must be best or last, got 'first'",
        "--checkpoint",
        "first",
    ),
    evaluate(
        "evaluate-dynamic-classifier",
        "--dynamic adapts a language model to the text it reads; {cls_run} is a classifier",
        "--dynamic",
        run="{cls_run}",
    ),
    # --- gen-data ---
    gen("length-below-3", "a DigitSum length must be >= 3", "--lengths", "5,2"),
    gen(
        "k-train-0",
        "--k-train (augmented copies per digit pair) must be >= 1, got 0",
        "--lengths",
        "5",
        "--k-train",
        "0",
    ),
    gen(
        "k-eval-negative",
        "--k-eval (augmented copies per digit pair) must be >= 1, got -1",
        "--lengths",
        "5",
        "--k-eval",
        "-1",
    ),
    gen("gen-seed-negative", "--seed must be >= 0", "--lengths", "5", "--seed", "-1"),
    gen("lengths-malformed", "--lengths must be comma-separated integers", "--lengths", "5;10"),
    gen("lengths-empty-item", "--lengths must be comma-separated integers", "--lengths", "5,,10"),
    case(
        "gen-out-is-a-file",
        ["gen-data", "digitsum", "--out", "{tmp}/out.txt", "--lengths", "5"],
        "cannot write DigitSum data into {tmp}/out.txt",
        files={"out.txt": "x"},
    ),
    # --- sweep ---
    sweep("grid-without-equals", "--grid 'model.cell' is not KEY=V1,V2", "--grid", "model.cell"),
    sweep("grid-empty-values", "--grid 'model.cell=' is not KEY=V1,V2", "--grid", "model.cell="),
    sweep(
        "grid-empty-value", "--grid 'model.cell=gru,,lstm' is not", "--grid", "model.cell=gru,,lstm"
    ),
    sweep(
        "grid-unknown-key",
        "unknown override key 'model.cel'; did you mean 'model.cell'?",
        "--grid",
        "model.cel=gru,lstm",
    ),
    sweep(
        "grid-bad-value",
        "sweep point hidden_size-0_seed-0: 'model.hidden_size' must be > 0",
        "--grid",
        "model.hidden_size=0,8",
    ),
    sweep(
        "grid-key-twice",
        "--grid names 'model.cell' twice",
        "--grid",
        "model.cell=gru",
        "--grid",
        "model.cell=lstm",
    ),
    sweep(
        "grid-value-twice",
        "sweep grid 'model.cell' has a value twice",
        "--grid",
        "model.cell=gru,gru",
    ),
    sweep(
        "grid-in-yaml-not-a-mapping",
        "'sweep.grid' must be a mapping",
        config=LM + "sweep: {grid: [1, 2]}\n",
    ),
    case(
        "sweep-out-is-a-file",
        ["sweep", "{tmp}/config.yaml", "--grid", "model.cell=gru,lstm", "--out", "{tmp}/taken"],
        "cannot create a run folder under {tmp}/taken: a file is in the way",
        files={"config.yaml": LM, "taken": "a file"},
    ),
    sweep("grid-over-seed", "sweep seeds with --seeds 0,1,2", "--grid", "seed=1,2"),
    sweep(
        "seeds-negative",
        "sweep point cell-gru_seed--1: 'seed' must be >= 0",
        "--grid",
        "model.cell=gru",
        "--seeds",
        "-1",
    ),
    sweep(
        "grid-in-yaml-empty-list",
        "sweep grid 'model.cell' must be a non-empty list of values",
        config=LM + "sweep: {grid: {model.cell: []}}\n",
    ),
    sweep("nothing-to-sweep", "nothing to sweep: give --grid"),
    sweep(
        "workers-0",
        "--workers must be >= 1, got 0",
        "--grid",
        "model.cell=gru,lstm",
        "--workers",
        "0",
    ),
    sweep(
        "seeds-not-integers",
        "--seeds must be integers separated by commas, got 'a,b'",
        "--grid",
        "model.cell=gru,lstm",
        "--seeds",
        "a,b",
    ),
    sweep(
        "seeds-twice", "--seeds has a seed twice", "--grid", "model.cell=gru,lstm", "--seeds", "1,1"
    ),
    sweep(
        "executor-unknown",
        "--executor must be local or ray, got 'rya'",
        "--grid",
        "model.cell=gru,lstm",
        "--executor",
        "rya",
    ),
    case("sweep-resume-not-a-sweep", ["sweep", "--resume", "{lm_run}"], "is not a sweep folder"),
    case(
        "sweep-resume-sweep-yaml-a-list",
        ["sweep", "--resume", "{tmp}/sw"],
        "{tmp}/sw/sweep.yaml is not what rnnlab sweep writes",
        files={"sw/sweep.yaml": "- 1\n", "sw/base.yaml": LM},
    ),
    case(
        "sweep-resume-unknown-executor",
        ["sweep", "--resume", "{tmp}/sw"],
        "{tmp}/sw/sweep.yaml: unknown executor setting 'nme'",
        files={"sw/sweep.yaml": SWEEP_YAML + "executor: {nme: local}\n", "sw/base.yaml": LM},
    ),
    case("sweep-resume-missing", ["sweep", "--resume", "{tmp}/gone"], "is not a sweep folder"),
    case(
        "sweep-resume-with-config",
        ["sweep", "{tmp}/c.yaml", "--resume", "{tmp}"],
        "--resume takes the sweep folder only",
    ),
    case("sweep-no-config", ["sweep", "--out", "{out}"], "give a config to sweep, or --resume"),
    # --- compare ---
    case(
        "compare-missing-path",
        ["compare", "{tmp}/nothing", "--out", "{out}/c.png"],
        "{tmp}/nothing is not a run folder, a sweep folder or a folder of runs",
    ),
    case(
        "compare-run-config-broken",
        ["compare", "{lm_run}", "{copy}", "--out", "{out}/c.png"],
        "{copy}/config.yaml: line 2, column 1: YAML syntax error",
        setup=broken_run_config,
    ),
    case(
        "compare-run-config-a-list",
        ["compare", "{lm_run}", "{copy}", "--out", "{out}/c.png"],
        "{copy}/config.yaml: a config must be a mapping of sections, got a list",
        setup=run_config_a_list,
    ),
    case(
        "compare-run-config-not-utf8",
        ["compare", "{lm_run}", "{copy}", "--out", "{out}/c.png"],
        "{copy}/config.yaml: config is not UTF-8 text",
        setup=run_config_not_utf8,
    ),
    case("compare-no-runs", ["compare", "{tmp}", "--out", "{out}/c.png"], "no runs found in {tmp}"),
    # --- tools: config, runs, export, search ---
    case("config-show-missing", ["config", "show", "{tmp}/nope.yaml"], "config file not found"),
    case(
        "config-show-bad-override",
        ["config", "show", "{tmp}/config.yaml", "model.hiden_size=3"],
        "unknown override key 'model.hiden_size'; did you mean 'model.hidden_size'?",
        files={"config.yaml": LM},
    ),
    case(
        "config-show-bad-range",
        ["config", "show", "{tmp}/config.yaml", "data.batch_size=0"],
        "'data.batch_size' must be > 0, got 0",
        files={"config.yaml": LM},
    ),
    case("runs-missing-folder", ["runs", "{tmp}/nothing"], "{tmp}/nothing is not a folder of runs"),
    override(
        "tensorboard-not-bool",
        "train.tensorboard=maybe",
        "'train.tensorboard' must be true or false",
    ),
    sweep(
        "search-unknown",
        "--search must be random or optuna",
        "--search",
        "bayes",
        "--space",
        "optim.lr=uniform:0.1,0.2",
    ),
    sweep(
        "search-space-no-kind",
        "--space 'optim.lr=0.1' is not KEY=KIND:V1,V2",
        "--search",
        "random",
        "--space",
        "optim.lr=0.1",
    ),
    sweep(
        "search-space-unknown-key",
        "unknown override key 'optim.lrr'",
        "--search",
        "random",
        "--space",
        "optim.lrr=uniform:0.1,0.2",
    ),
    sweep(
        "search-space-bad-value",
        "'model.num_layers' must be > 0, got 0",
        "--search",
        "random",
        "--space",
        "model.num_layers=int:0,2",
    ),
    sweep(
        "search-with-grid",
        "--grid and --seeds are for grid sweeps",
        "--search",
        "random",
        "--grid",
        "model.cell=gru,lstm",
    ),
    sweep(
        "search-trials-0",
        "--trials must be >= 1, got 0",
        "--search",
        "random",
        "--trials",
        "0",
        "--space",
        "optim.lr=uniform:0.1,0.2",
    ),
    sweep("search-nothing", "nothing to search: give --space", "--search", "optuna"),
    sweep(
        "search-space-in-yaml-low-high",
        "sweep.space 'optim.lr': uniform needs low < high",
        config=LM + "sweep: {search: random, space: {optim.lr: {uniform: [1, 0.5]}}}\n",
    ),
    case(
        "search-resume-with-space",
        ["sweep", "--resume", "{tmp}", "--space", "optim.lr=uniform:0.1,0.2"],
        "--resume takes the sweep folder only: its search is saved",
    ),
    case(
        "export-format",
        ["export", "{lm_run}", "--format", "tflite"],
        "--format must be onnx or torchscript, got 'tflite'",
    ),
    case(
        "export-checkpoint",
        ["export", "{lm_run}", "--format", "onnx", "--checkpoint", "middle"],
        "--checkpoint must be best or last",
    ),
    case(
        "export-missing-run",
        ["export", "{tmp}/nothing", "--format", "onnx"],
        "run folder not found: {tmp}/nothing",
    ),
    case("export-no-format", ["export", "{tmp}/nothing"], "Missing option '--format'"),
    # @tools-cases (more rows go here)
    # --- bounded inputs (config, data, grid, model), names, integrity ---
    train("config-alias-bomb", alias_bomb(), "expands to more than 100,000 values"),
    train("config-too-deep", "name: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 50"),
    train("config-too-big", LM + "#" * (1 << 20) + "\n", "a config is at most 1,048,576 bytes"),
    case("config-a-device", ["train", "/dev/zero"], "/dev/zero is not a regular file"),
    override("override-too-deep", "model.hidden_size=" + "[" * 60 + "]" * 60, "nested more than"),
    train(
        "data-a-device",
        LM.replace("dataset: timemachine", "dataset: text, path: /dev/zero"),
        "/dev/zero is not a regular file (a device, a pipe or a socket)",
    ),
    train(
        "archive-member-declares-too-much",
        LM.replace("dataset: timemachine", "dataset: jaychou, path: {tmp}/lyrics.zip"),
        "jaychou_lyrics.txt is declared as 4,000,000,000 bytes, over the",
        files={"lyrics.zip": zip_declaring(4_000_000_000)},
    ),
    override(
        "model-estimate-over-free-memory",
        "model.hidden_size=200000",
        "the model does not fit in memory: it needs at least",
    ),  # fmt: skip
    sweep(
        "grid-over-max-runs",
        "more than --max-runs 200: pass --max-runs 301",
        "--grid",
        f"model.hidden_size={BIG_GRID}",
    ),  # fmt: skip
    train("name-too-long", LM.replace("name: bad", "name: " + "n" * 300), "at most 100 printable"),
    train("name-with-a-newline", LM.replace("name: bad", 'name: "a\\nb"'), "printable"),
    train("name-with-nul", LM.replace("name: bad", 'name: "a\\0b"'), "printable"),
    predict(
        "temperature-nan",
        "--temperature must be >= 0 and finite",
        "--prefix",
        "t",
        "--temperature",
        "nan",
    ),  # fmt: skip
    predict(
        "temperature-inf",
        "--temperature must be >= 0 and finite",
        "--prefix",
        "t",
        "--temperature",
        "inf",
    ),  # fmt: skip
    predict(
        "temperature-underflows", "overflow float32", "--prefix", "t", "--temperature", "1e-300"
    ),  # fmt: skip
    predict(
        "top-k-without-temperature", "give --temperature > 0 too", "--prefix", "t", "--top-k", "3"
    ),  # fmt: skip
    resume(
        "resume-config-edited",
        "is not the config last.pt was trained with (model.hidden_size: "
        "8 in the checkpoint, 12 now)",
        wider_config,
    ),  # fmt: skip
    resume("resume-lr-edited", "(optim.lr: 0.01 in the checkpoint, 0.5 now)", edited_lr),
    resume(
        "resume-vocab-edited", "vocab.json is not the one last.pt was trained with", edited_vocab
    ),  # fmt: skip
    resume(
        "resume-checkpoint-without-epoch",
        "its last.pt has no valid 'epoch'",
        checkpoint_without_epoch,
    ),  # fmt: skip
    predict(
        "vocab-empty",
        "vocab.json is not the one best.pt was trained with",
        "--prefix",
        "t",
        run="{copy}",
        setup=empty_vocab,
    ),  # fmt: skip
    # sequence layers (mingru, minlstm): keys that do not apply to them
    override(
        "mingru-weight-drop",
        "model.cell=mingru",
        "'model.weight_drop' is not for model.cell: mingru: DropConnect on W_hh",
        "model.impl=scratch",
        "model.weight_drop=0.2",
    ),  # fmt: skip
    override(
        "minlstm-forget-bias",
        "model.cell=minlstm",
        "'model.forget_bias' is for model.cell: lstm, got minlstm",
        "model.impl=scratch",
        "model.forget_bias=1",
    ),  # fmt: skip
    override(
        "mingru-builtin", "model.cell=mingru", "model.cell: mingru has no torch.nn layer"
    ),  # fmt: skip
    override(
        "mingru-another-cells-key",
        "model.cell=mingru",
        "'model.nonlinearity: relu' is for model.cell: rnn, got mingru",
        "model.impl=scratch",
        "model.nonlinearity=relu",
    ),  # fmt: skip
    override(
        "scan-chunk-on-gru", "model.scan_chunk=8", "'model.scan_chunk' is for model.cell: "
    ),  # fmt: skip
    override(
        "mingru-compile-true",
        "model.cell=mingru",
        "'model.compile' is not for model.cell: mingru",
        "model.impl=scratch",
        "model.compile=true",
    ),  # fmt: skip
    override(
        "mingru-init-scheme",
        "model.cell=mingru",
        "'model.init: orthogonal' draws gate blocks",
        "model.impl=scratch",
        "model.init=orthogonal",
    ),  # fmt: skip
    override("scan-chunk-zero", "model.scan_chunk=0", "'model.scan_chunk' must be > 0"),
    # lru and s6: their keys' ranges and cross-checks
    override(
        "lru-r-min-above-default-r-max",
        "model.cell=lru",
        "'model.r_min' must be < model.r_max (defaults 0.9 and 0.999), got 0.9995 >= 0.999",
        "model.impl=scratch",
        "model.r_min=0.9995",
    ),  # fmt: skip
    override(
        "lru-r-max-one",
        "model.cell=lru",
        "'model.r_max' must be < 1",
        "model.impl=scratch",
        "model.r_max=1.0",
    ),  # fmt: skip
    override(
        "s6-state-size-zero",
        "model.cell=s6",
        "'model.state_size' must be >= 1",
        "model.impl=scratch",
        "model.state_size=0",
    ),  # fmt: skip
    override(
        "s6-conv-width-zero",
        "model.cell=s6",
        "'model.conv_width' must be >= 1",
        "model.impl=scratch",
        "model.conv_width=0",
    ),  # fmt: skip
    override(
        "s6-lrus-key",
        "model.cell=s6",
        "'model.r_min' is for model.cell: lru, got s6",
        "model.impl=scratch",
        "model.r_min=0.5",
    ),  # fmt: skip
]


# --- the memory benchmarks (docs/memory.md): gen-data and their configs ---
def gen_memory(id, task, expected, *options):
    return case(id, ["gen-data", task, "--out", "{out}", *options], expected)


ADDING = "name: bad\ndata: {dataset: adding, length: 10}\ntrain: {epochs: 1}\n"
CASES += [
    gen_memory("adding-length-1", "adding", "an adding length must be >= 2", "--lengths", "10,1"),
    gen_memory(
        "copy-length-0", "copy", "a copy length (the delay T) must be >= 1", "--lengths", "0"
    ),
    gen_memory(
        "selective-copy-tokens-over-positions",
        "selective-copy",
        "16 tokens to copy do not fit in a span of 8 positions",
        "--lengths",
        "8",
    ),
    gen_memory(
        "recall-pairs-over-positions",
        "recall",
        "8 pairs and 8 queries need 24 positions, the length T is 20",
        "--lengths",
        "20",
    ),
    gen_memory(
        "recall-keys-too-few",
        "recall",
        "--keys 4 is too small a vocabulary for 8 distinct keys",
        "--lengths",
        "64",
        "--keys",
        "4",
    ),
    gen_memory(
        "recall-queries-over-pairs",
        "recall",
        "--queries 9 is more than --pairs 8",
        "--lengths",
        "64",
        "--queries",
        "9",
    ),
    gen_memory(
        "copy-alphabet-1",
        "copy",
        "--alphabet must be 2..30000",
        "--lengths",
        "5",
        "--alphabet",
        "1",
    ),
    gen_memory(
        "copy-n-train-0",
        "copy",
        "--n-train must be >= 1, got 0",
        "--lengths",
        "5",
        "--n-train",
        "0",
    ),
    gen_memory(
        "adding-lengths-malformed", "adding", "--lengths must be comma-separated", "--lengths", "a"
    ),
    gen_memory(
        "digits-permute-not-a-seed",
        "digits",
        "--permute takes a seed, an integer >= 0; got '1.5'",
        "--permute",
        "1.5",
    ),
    gen_memory("digits-permute-negative", "digits", "--permute takes a seed", "--permute", "-3"),
    gen_memory(
        "digits-sizes-over-1797",
        "digits",
        "must each be >= 1 and add up to at most 1797",
        "--n-train",
        "1700",
    ),
    gen_memory(
        "mnist1d-sizes-not-tens",
        "mnist1d",
        "must each be >= 1 and add up to a multiple of 10",
        "--n-train",
        "3",
    ),
    train("adding-length-1-config", ADDING, "an adding length must be >= 2", "data.length=1"),
    train(
        "adding-classification-metric",
        ADDING,
        "'sweep.metric: test_acc' is not reported by dataset 'adding' (a regression",
        "sweep.metric=test_acc",
    ),
    train(
        "adding-classifier-key",
        ADDING,
        "'data.max_len' cuts a text classifier's texts; dataset 'adding' has fixed-length",
        "data.max_len=5",
    ),
    train(
        "adding-language-model-key",
        ADDING,
        "'model.ar' is for language models; dataset 'adding' is a regression",
        "model.ar=1",
    ),
    train(
        "copy-permute",
        ADDING,
        "'data.permute' orders the digits' pixels; not for 'copy'",
        "data.dataset=copy",
        "data.permute=1",
    ),
    train(
        "digits-length", ADDING, "dataset 'digits' is 64 steps (8x8 pixels)", "data.dataset=digits"
    ),
    train(
        "memory-path-missing",
        ADDING,
        "{tmp}/none/10/meta.json not found: data.path must be a gen-data adding folder",
        "data.path={tmp}/none",
    ),
    train("threads-zero", LM, "--threads takes auto or a number of threads >= 1", "--threads", "0"),
    train("threads-key-zero", LM, "threads", "threads=0"),
    case(
        "sweep-threads-on-resume",
        ["sweep", "--resume", "{tmp}", "--threads", "2"],
        "--threads applies to a new sweep",
    ),  # fmt: skip
    sweep("sweep-threads-not-a-number", "--threads takes auto or a number", "--threads", "many"),
    case(
        "flag-given-a-value",
        ["evaluate", "{lm_run}", "--dynamic", "true"],
        "--dynamic is a flag and takes no value: give --dynamic alone",
    ),  # fmt: skip
    train(
        "config-key-as-option",
        LM,
        "No such option: --epochs; did you mean train.epochs=5?",
        "--epochs",
        "5",
    ),  # fmt: skip
    case(
        "config-path-typo",
        ["train", str(REPO / "configs" / "gru_timemachin.yaml")],
        f"did you mean '{REPO / 'configs' / 'gru_timemachine.yaml'}'?",
    ),  # fmt: skip
    override("schedule-unknown", "optim.schedule=cosin", "got 'cosin'; did you mean 'cosine'?"),
    override(
        "schedule-option-undeclared",
        "optim.options={warmup: 3}",
        "unknown key 'optim.options.warmup'",
    ),
    override(
        "cell-option-undeclared", "model.options={leak: 3}", "unknown key 'model.options.leak'"
    ),
    override(
        "indrnn-activation-unknown",
        "model.cell=indrnn",
        "'model.options.activation' must be one of relu | tanh, got 'sigmoid'",
        "model.impl=scratch",
        "model.options={activation: sigmoid}",
    ),
    override(
        "indrnn-recurrent-max-not-positive",
        "model.cell=indrnn",
        "'model.options.recurrent_max' must be > 0, got -1",
        "model.impl=scratch",
        "model.options={recurrent_max: -1}",
    ),
    case(
        "plugin-not-found",
        ["train", "{tmp}/config.yaml", "--plugin", "no_such_plugin", "--out", "{out}"],
        "plugin 'no_such_plugin' failed to import: ModuleNotFoundError",
        {"config.yaml": LM},
    ),
    train(
        "plugin-not-a-list", LM + "plugins: my_plugin\n", "'plugins' must be a list, got a string"
    ),
    predict(
        "checkpoint-inflates",
        "best.pt is not a checkpoint rnnlab wrote: its records declare",
        "--prefix",
        "t",
        run="{copy}",
        setup=inflating_checkpoint,
    ),
    predict(
        "checkpoint-legacy-pickle",
        "best.pt is a plain pickle, not a checkpoint torch.save wrote: refused",
        "--prefix",
        "t",
        run="{copy}",
        setup=legacy_pickle_checkpoint,
    ),
    override(
        "model-num-layers-huge", "model.num_layers=100000", "'model.num_layers' must be <= 1000"
    ),
    override(
        "model-deep-and-wide-estimated-in-constant-time",
        "model.num_layers=1000",
        "the model does not fit in memory",
        "model.hidden_size=8192",
    ),
    train(
        "corpus-two-characters",
        TEXT,
        "{tmp}/corpus.txt has only 2 token(s), too few to train on once at least 2 are held out",
        files={"corpus.txt": "ab"},
    ),
    case(
        "compare-summary-a-fifo",
        ["compare", "{copy}", "--out", "{tmp}/c.png"],
        "copy/summary.json is a FIFO, not a regular summary.json",
        setup=summary_a_fifo,
    ),
    case(
        "runs-summary-a-fifo",
        ["runs", "{copy}/.."],
        "copy/summary.json is a FIFO, not a regular summary.json",
        setup=summary_a_fifo,
    ),
    case(
        "compare-metrics-a-fifo",
        ["compare", "{copy}", "--out", "{tmp}/c.png"],
        "copy/metrics.csv is a FIFO, not a regular CSV file",
        setup=metrics_a_fifo,
    ),
    case(
        "compare-out-under-a-file",
        ["compare", "{lm_run}", "--out", "{tmp}/afile/c.png"],
        "cannot write {tmp}/afile: a file is in the way where a folder is needed",
        files={"afile": ""},
    ),
    case(
        "compare-out-under-proc",
        ["compare", "{lm_run}", "--out", "/proc/rnnlab-no/c.png"],
        "cannot write /proc/rnnlab-no: no such file or folder",
    ),
    case(
        "inspect-out-a-file",
        ["inspect", "{lm_run}", "--out", "{tmp}/afile"],
        "cannot write {tmp}/afile: a file is in the way where a folder is needed",
        files={"afile": ""},
    ),
    case(
        "export-out-under-a-file",
        ["export", "{lm_run}", "--format", "torchscript", "--out", "{tmp}/afile/m.pt"],
        "cannot export to {tmp}/afile/m.pt: {tmp}/afile is a file, not a folder",
        files={"afile": ""},
    ),
    predict(
        "checkpoint-bigger-than-its-config",
        "more than a model of this run's config",
        "--prefix",
        "t",
        run="{copy}",
        setup=oversized_checkpoint,
    ),
]

SUBPROCESS = {
    "compare-summary-a-fifo",
    "checkpoint-legacy-pickle",
    "unknown-option",
    "yaml-syntax",
    "unknown-model-key",
    "override-conflict",
    "corpus-not-utf8",
    "checkpoint-truncated",
    "gen-out-is-a-file",
    "seeds-not-integers",
    "inspect-unit-out-of-range",
    "config-alias-bomb",
    "data-a-device",
    "resume-config-edited",
}


@pytest.fixture
def lm_run(tiny_lm_run) -> Path:
    """The session's tiny language model (hidden_size 8: the copies below change it)."""
    return tiny_lm_run


@pytest.fixture
def cls_run(tiny_digitsum_run) -> Path:
    """The session's tiny DigitSum classifier."""
    return tiny_digitsum_run


def refuse_to_train(*args, **kwargs):
    """Bad input must fail before the training loop: fail the case at once, not after
    hours of training on a config that was accepted."""
    raise AssertionError("the bad input was accepted: training started")


class Case:
    """One case's folder, its placeholders, and a snapshot of everything it could write."""

    def __init__(self, tmp: Path, request, argv, files, expected, setup):
        self.tmp = tmp
        self.places = {"{tmp}": str(tmp), "{out}": str(tmp / "out")}
        text = " ".join([*argv, expected, *(v for v in files.values() if isinstance(v, str))])
        for name in ("lm_run", "cls_run"):
            if "{" + name + "}" in text or "{copy}" in text and name == "lm_run":
                self.places["{" + name + "}"] = str(request.getfixturevalue(name))
        if "{copy}" in text:
            copy = tmp / "copy"
            shutil.copytree(self.places["{lm_run}"], copy)
            setup(copy)
            self.places["{copy}"] = str(copy)
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(self.fill(content), encoding="utf-8")
        self.argv = [self.fill(a) for a in argv]
        self.expected = self.fill(expected)
        self.watched = [tmp] + [
            Path(self.places[k]) for k in ("{lm_run}", "{cls_run}") if k in self.places
        ]
        self.before = self.snapshot()

    def fill(self, text: str) -> str:
        for key, value in self.places.items():
            text = text.replace(key, value)
        return text

    def snapshot(self) -> set:
        return {
            (str(p), p.is_dir() or p.stat().st_size, p.is_dir() or p.stat().st_mtime_ns)
            for root in self.watched
            for p in [root, *root.rglob("*")]
        }

    def check(self, exit_code: int, stdout: str, stderr: str) -> None:
        assert "Traceback" not in stdout + stderr, stdout + stderr
        assert exit_code == 2, stdout + stderr
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert self.expected in lines[0], lines[0]
        assert self.snapshot() == self.before, "the failed command wrote files"
        assert not (self.tmp / "out").exists(), "the failed command made the --out folder"


@pytest.mark.parametrize("argv, files, expected, setup", CASES)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path, request, monkeypatch, argv, files, expected, setup
):
    bad = Case(tmp_path, request, argv, files, expected, setup)
    monkeypatch.setattr("rnnlab.training.session.fit", refuse_to_train)
    result = runner.invoke(app, bad.argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    bad.check(result.exit_code, result.stdout, result.stderr)


BY_ID = {c.id: c for c in CASES}
SUBPROCESS_CASES = [BY_ID[name] for name in sorted(SUBPROCESS)]  # a KeyError names a typo


@pytest.mark.parametrize("argv, files, expected, setup", SUBPROCESS_CASES)
def test_bad_input_from_a_real_process(tmp_path, request, argv, files, expected, setup):
    bad = Case(tmp_path, request, argv, files, expected, setup)
    result = subprocess.run(
        [sys.executable, "-m", "rnnlab", *bad.argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    bad.check(result.returncode, result.stdout, result.stderr)


def test_a_bidirectional_language_model_trains_with_a_warning(tmp_path):
    """Allowed (d2l 9.4.4 trains one to show why it fails), with one warning line."""
    argv = [
        "train",
        str(REPO / "configs" / "tiny.yaml"),
        "model.bidirectional=true",
        "model.hidden_size=4",
        "train.epochs=1",
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: model.bidirectional"), lines
    assert "sees the future" in lines[0] and "cannot generate forward" in lines[0]
    assert (Path(result.stdout.strip()) / "checkpoints" / "best.pt").is_file()


def test_a_unidirectional_language_model_and_a_bidirectional_classifier_have_no_warning():
    from rnnlab.config import load_config
    from rnnlab.tasks import config_warnings

    assert config_warnings(load_config(REPO / "configs" / "tiny.yaml")) == []
    assert config_warnings(load_config(REPO / "configs" / "tiny_imdb.yaml")) == []
    bilstm = load_config(REPO / "configs" / "bilstm_timemachine.yaml")
    assert "sees the future" in config_warnings(bilstm)[0]


def refuse_run_folder(*args, **kwargs):
    raise AssertionError("a run folder was created for bad input")


# the run folder's own errors (--out a file, --run-dir taken) come from creating it
MADE_BY_CREATING = {"out-is-a-file", "run-dir-exists"}
TRAIN_CASES = [
    c
    for c in CASES
    if c.values[0][0] == "train" and "--resume" not in c.values[0] and c.id not in MADE_BY_CREATING
]


@pytest.mark.parametrize("argv, files, expected, setup", TRAIN_CASES)
def test_every_check_runs_before_a_run_folder_exists(
    tmp_path, request, monkeypatch, argv, files, expected, setup
):
    """Every bad config fails before `Run.create` is even called (not only before the loop
    starts): the checks of training, its callbacks and plug-ins are one step ahead of it."""
    bad = Case(tmp_path, request, argv, files, expected, setup)
    monkeypatch.setattr("rnnlab.runs.Run.create", refuse_run_folder)
    monkeypatch.setattr("rnnlab.runs.Run.create_at", refuse_run_folder)
    result = runner.invoke(app, bad.argv)
    assert not isinstance(result.exception, AssertionError), result.exception
    bad.check(result.exit_code, result.stdout, result.stderr)
