"""IMDB and CSV text classification: the loaders (folder, zip, tar.gz), tokenisation, the
vocabulary, the tokenised cache, padding that never changes a prediction, a tiny run and
predict --text."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.data import DATASETS, check_config
from rnnlab.data import imdb as imdb_module
from rnnlab.data.textcls import tokenize
from rnnlab.errors import RnnlabError
from rnnlab.models import SequenceClassifier
from rnnlab.models.classifier import LastState, reverse_within

runner = CliRunner()
TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny_imdb.yaml"


def load(write_config, text: str):
    cfg = load_config(write_config(text))
    return DATASETS.get(cfg.data.dataset)().load(cfg)


def make_imdb(root: Path, reviews: dict[str, list[str]]) -> Path:
    """An aclImdb-layout folder: reviews {"train/pos": [...], ...}."""
    for where, texts in reviews.items():
        (root / where).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / where / f"{i}_7.txt").write_text(text, encoding="utf-8")
    return root


SMALL = {
    "train/pos": ["A great, great film!", "Great acting.<br /><br />Loved it", "great fun"],
    "train/neg": ["Awful. Just awful", "Boring and awful...", "I didn't like it"],
    "test/pos": ["great", "a superb film"],
    "test/neg": ["awful", "boring"],
}


# --- tokenisation and vocabulary ---


def test_tokenizer_lowercases_splits_punctuation_and_drops_br():
    tokens, lengths = tokenize(["Great acting.<br /><br />Didn't LOVE it!", "", "Ok"])
    assert tokens[:6] == ["great", "acting", ".", "didn't", "love", "it"]
    assert lengths.tolist() == [7, 0, 1]
    assert "\n" in tokens  # separators between texts, dropped when encoding


def test_vocabulary_from_training_split_only(write_config, tmp_path):
    root = make_imdb(tmp_path / "imdb", SMALL)
    cfg = f"data: {{dataset: imdb, path: {root}, valid_fraction: 0.34, min_freq: 1}}\n"
    data = load(write_config, cfg)
    assert data.classes == ["neg", "pos"]
    assert [len(data.split(s)) for s in ("train", "dev", "test")] == [4, 2, 4]
    vocab = data.vocab
    assert vocab.idx_to_token[:2] == ["<unk>", "<pad>"]
    assert "superb" not in vocab.token_to_idx  # test-only words are unknown
    test = data.split("test")
    superb = test.ids[test.offsets[3] : test.offsets[4]]  # "a superb film", pos, last
    assert vocab.decode(superb)[1] == "<unk>" and test.labels.tolist() == [0, 0, 1, 1]
    dev_words = set(vocab.decode(data.split("dev").ids))
    train_words = set(vocab.decode(data.split("train").ids))
    assert dev_words - train_words <= {"<unk>"}  # dev was held out before the vocabulary


def test_min_freq_and_max_len(write_config, tmp_path):
    root = make_imdb(tmp_path / "imdb", SMALL)
    cfg = f"data: {{dataset: imdb, path: {root}, valid_fraction: 0.2, min_freq: 2, max_len: 3}}\n"
    data = load(write_config, cfg)
    assert "great" in data.vocab.token_to_idx and "boring" not in data.vocab.token_to_idx
    assert max(data.split(s).lengths.max() for s in ("train", "dev", "test")) <= 3


# --- sources: folder, zip, tar.gz, data directory ---


def splits_of(data):
    return {s: (data.split(s).ids.tolist(), data.split(s).labels.tolist()) for s in data.splits}


def test_folder_zip_and_tar_gz_give_the_same_data(write_config, tmp_path, fresh_data_dir):
    root = make_imdb(tmp_path / "src" / "any_top_name", SMALL)
    with zipfile.ZipFile(tmp_path / "reviews.zip", "w") as z:
        for file in sorted(root.rglob("*.txt")):
            z.write(file, "my_imdb/" + str(file.relative_to(root)))
        z.writestr("__MACOSX/my_imdb/train/pos/._0_7.txt", b"\x00\x05junk")
    with tarfile.open(tmp_path / "reviews.tar.gz", "w:gz") as t:
        t.add(root, arcname="aclImdb")
    results = []
    for path in (root, tmp_path / "src", tmp_path / "reviews.zip", tmp_path / "reviews.tar.gz"):
        cfg = f"data: {{dataset: imdb, path: {path}, valid_fraction: 0.34, min_freq: 1}}\n"
        data = load(write_config, cfg)
        results.append((data.vocab.idx_to_token, splits_of(data)))
    assert all(r == results[0] for r in results[1:])


def test_the_shared_fixture_zip(write_config, shared_data):
    data = load(
        write_config, f"data: {{dataset: imdb, path: {shared_data / 'aclImdb_tiny.zip'}}}\n"
    )
    assert len(data.split("test")) == 20 and len(data.split("train")) + len(data.split("dev")) == 20
    assert sorted(set(data.split("test").labels.tolist())) == [0, 1]


def test_aclimdb_folder_in_the_data_dir_is_used_without_path(write_config, fresh_data_dir):
    make_imdb(fresh_data_dir / "aclImdb", SMALL)
    data = load(write_config, "data: {dataset: imdb, valid_fraction: 0.34, min_freq: 1}\n")
    assert len(data.split("test")) == 4


@pytest.mark.parametrize(
    "layout, message",
    [
        ({"train/pos": ["good"], "train/neg": ["bad"]}, "no test/ folder"),
        ({"train/pos": ["good"], "test/pos": ["good"], "test/neg": ["bad"]}, "no train/neg/"),
    ],
)
def test_imdb_missing_a_split_is_one_clear_error(write_config, tmp_path, layout, message):
    root = make_imdb(tmp_path / "imdb", layout)
    with pytest.raises(RnnlabError, match=message):
        load(write_config, f"data: {{dataset: imdb, path: {root}}}\n")


def test_imdb_path_errors(write_config, tmp_path):
    with pytest.raises(RnnlabError, match="IMDB data not found"):
        load(write_config, f"data: {{dataset: imdb, path: {tmp_path / 'nope'}}}\n")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(RnnlabError, match="not a readable zip archive"):
        load(write_config, f"data: {{dataset: imdb, path: {tmp_path / 'bad.zip'}}}\n")


# --- the tokenised cache ---


def test_second_load_comes_from_the_cache(write_config, tmp_path, fresh_data_dir, monkeypatch):
    root = make_imdb(tmp_path / "imdb", SMALL)
    cfg = f"data: {{dataset: imdb, path: {root}, valid_fraction: 0.34, min_freq: 1}}\n"
    first = load(write_config, cfg)
    assert len(list((fresh_data_dir / "cache").glob("imdb-*.npz"))) == 1

    def no_reading(*args):
        raise AssertionError("the source was read again")

    monkeypatch.setattr(imdb_module, "read_split", no_reading)
    again = load(write_config, cfg)
    assert again.vocab.idx_to_token == first.vocab.idx_to_token
    assert splits_of(again) == splits_of(first)
    with pytest.raises(AssertionError, match="read again"):  # other settings: another entry
        load(write_config, cfg.replace("min_freq: 1", "min_freq: 2"))


def test_an_unwritable_cache_only_skips_the_cache(write_config, tmp_path, fresh_data_dir):
    root = make_imdb(tmp_path / "imdb", SMALL)
    (fresh_data_dir / "cache").write_text("a file where the cache folder should be")
    data = load(write_config, f"data: {{dataset: imdb, path: {root}, valid_fraction: 0.34}}\n")
    assert len(data.split("test")) == 4


# --- csv ---


def test_csv_file_and_folder(write_config, tmp_path):
    rows = "".join(
        f'"{w} movie, truly {w}",{lab}\n' for w, lab in [("good", "yes"), ("bad", "no")] * 10
    )
    (tmp_path / "one.csv").write_text("review,liked\n" + rows)
    cfg = f"data: {{dataset: csv, path: {tmp_path / 'one.csv'}, text_column: review, label_column: liked, valid_fraction: 0.2}}\n"
    data = load(write_config, cfg)
    assert data.classes == ["no", "yes"]
    assert [len(data.split(s)) for s in ("train", "dev", "test")] == [12, 4, 4]
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\n" + rows)
    (folder / "test.csv").write_text('text,label\n"so good",yes\n')
    data = load(write_config, f"data: {{dataset: csv, path: {folder}, valid_fraction: 0.25}}\n")
    assert [len(data.split(s)) for s in ("train", "dev", "test")] == [15, 5, 1]
    assert data.vocab.decode(data.split("test").ids) == ["<unk>", "good"]  # "so": test only


@pytest.mark.parametrize(
    "train, test, message",
    [
        ("words,label\na,x\nb,y\n", None, "has no column 'text' (data.text_column)"),
        ("text,label\na,x\nb,y\n", "text,label\nc,z\n", "label(s) z not in the training labels"),
        ("text,label\na,x\nb,x\n", None, "needs at least 2 labels"),
        ("text,label\na,x,extra\n", None, "line 2: 3 fields, the header has 2"),
    ],
)
def test_csv_errors(write_config, tmp_path, train, test, message):
    (tmp_path / "train.csv").write_text(train)
    if test:
        (tmp_path / "test.csv").write_text(test)
    with pytest.raises(RnnlabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(write_config, f"data: {{dataset: csv, path: {tmp_path}}}\n")


def test_csv_keeps_quoted_newlines_and_ignores_a_byte_order_mark(write_config, tmp_path):
    rows = "".join(f'"line one\nline two {i}",{i % 2}\n' for i in range(10))
    (tmp_path / "data.csv").write_text("\ufefftext,label\n" + rows, encoding="utf-8")
    data = load(
        write_config,
        f"data: {{dataset: csv, path: {tmp_path / 'data.csv'}, valid_fraction: 0.2}}\n",
    )
    assert sum(len(data.split(s)) for s in ("train", "dev", "test")) == 10
    assert data.classes == ["0", "1"]
    train = data.split("train")
    assert data.vocab.decode(train.ids[: train.offsets[1]])[:4] == ["line", "one", "line", "two"]


def test_csv_needs_a_path(write_config):
    with pytest.raises(RnnlabError, match="dataset 'csv' needs data.path"):
        check_config(load_config(write_config("data: {dataset: csv}\n")))


# --- padding never changes a result ---


def model_cfg(write_config, **model):
    text = "model: {" + ", ".join(f"{k}: {v}" for k, v in model.items()) + "}\n"
    return load_config(write_config(text)).model


def test_reverse_within_lengths_keeps_padding_in_place():
    x = torch.arange(8.0).view(4, 2, 1)  # (T, B, 1): column 0 = 0,2,4,6; column 1 = 1,3,5,7
    out = reverse_within(x, torch.tensor([3, 4]))
    assert out[:, 0, 0].tolist() == [4, 2, 0, 6] and out[:, 1, 0].tolist() == [7, 5, 3, 1]


@pytest.mark.parametrize("impl", ["builtin", "scratch"])
def test_bidirectional_final_states_equal_packed_nn_lstm(write_config, impl):
    torch.manual_seed(0)
    cfg = model_cfg(
        write_config, impl=impl, cell="lstm", num_layers=2, bidirectional="true", hidden_size=6
    )
    encoder = LastState(cfg, 5).double()
    packed = nn.LSTM(5, 6, num_layers=2, bidirectional=True).double()
    weights = {}  # the packed LSTM's weights, renamed for the layer-by-layer stack
    for name, value in packed.state_dict().items():
        base, layer = name.split("_l")[0], int(name.split("_l")[1][0])
        where = "reverse_layers" if name.endswith("_reverse") else "forward_layers"
        weights[f"{where}.{layer}.layer.{base}_l0"] = value
    encoder.load_state_dict(weights)
    x = torch.randn(9, 4, 5, dtype=torch.double)  # (T, B, D)
    lengths = torch.tensor([9, 3, 6, 1])
    _, (h, _) = packed(pack_padded_sequence(x, lengths, enforce_sorted=False))
    assert torch.allclose(encoder(x, lengths), torch.cat([h[-2], h[-1]], -1), atol=1e-12)


@pytest.mark.parametrize(
    "model",
    [
        {"cell": "lstm", "num_layers": 2, "bidirectional": "true", "dropout": 0.5},
        {"cell": "gru", "num_layers": 2},
        {"cell": "rnn", "bidirectional": "true"},
        {"cell": "gru", "impl": "scratch", "num_layers": 2, "bidirectional": "true"},
        {"cell": "rnn", "impl": "scratch", "residual": "true"},
    ],
)
def test_a_review_gets_the_same_prediction_alone_or_beside_a_much_longer_one(write_config, model):
    torch.manual_seed(0)
    classifier = SequenceClassifier(
        50, 2, model_cfg(write_config, embedding=8, hidden_size=8, **model)
    )
    classifier.eval()
    short = torch.randint(2, 50, (1, 7))  # (1, 7)
    long = torch.randint(2, 50, (1, 300))  # (1, 300)
    alone = torch.softmax(classifier(short, torch.tensor([7])), -1)  # (1, 2)
    padded = torch.cat([long, torch.cat([short, torch.ones(1, 293, dtype=torch.long)], 1)])
    beside = torch.softmax(classifier(padded, torch.tensor([300, 7])), -1)[1:]  # (1, 2)
    assert torch.allclose(alone, beside, atol=1e-6)


# --- a tiny run and predict --text ---


@pytest.fixture
def imdb_run(tiny_imdb_run) -> Path:
    """The session's run of configs/tiny_imdb.yaml."""
    return tiny_imdb_run


def test_tiny_imdb_run(imdb_run):
    summary = json.loads((imdb_run / "summary.json").read_text())
    assert summary["examples"] == {"train": 15, "dev": 5, "test": 20}
    assert 0 <= summary["test"]["test_acc"] <= 1 and summary["epochs"] == 2
    assert json.loads((imdb_run / "labels.json").read_text())["classes"] == ["neg", "pos"]


def test_predict_text_prints_label_and_probability(imdb_run):
    result = runner.invoke(app, ["predict", "--run", str(imdb_run), "--text", "A wonderful film!"])
    assert result.exit_code == 0, result.output
    label, probability = result.output.split()
    assert label in ("neg", "pos") and 0.5 <= float(probability) <= 1
    again = runner.invoke(app, ["predict", "--run", str(imdb_run), "--text", "a WONDERFUL film !"])
    assert again.output == result.output  # the training tokeniser: case and spacing do not matter


def test_predict_on_a_classifier_refuses_prefix(imdb_run):
    result = runner.invoke(app, ["predict", "--run", str(imdb_run), "--prefix", "a film"])
    assert result.exit_code == 2 and "it is a classifier (imdb); use --text" in result.output
