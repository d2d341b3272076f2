"""Language-model data and evaluation: PTB and Tiny Shakespeare loaders, split
folders, newlines and <eos>, vectorised vocabularies, held-out perplexity over every token,
test perplexity of the best checkpoint, bits per character."""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.data import DATASETS, Vocab, check_config
from rnnlab.data.tokens import count, encode, tokenize
from rnnlab.errors import RnnlabError
from rnnlab.models import LanguageModel
from rnnlab.tasks import build_task

runner = CliRunner()


def load_corpus(write_config, text: str):
    cfg = check_config(load_config(write_config(text)))
    return DATASETS.get(cfg.data.dataset)().load(cfg)


def write_split_folder(folder: Path, names=("train.txt", "valid.txt", "test.txt")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = {
        "train": "the cat sat on the mat\nthe dog sat\n" * 30,
        "valid": "the cat sat\nthe dog ran on the mat\n" * 4,
        "test": "a dog sat on the cat\n" * 5,
    }
    for name in names:
        split = next(s for s in lines if s in name.split("."))
        (folder / name).write_text(lines[split], encoding="utf-8")
    return folder


# --- PTB and Tiny Shakespeare, from the shared copies ---


def test_ptb_has_the_published_token_counts_and_vocabulary(write_config, shared_data):
    corpus = load_corpus(write_config, "data: {dataset: ptb, token: word}\n")
    sizes = {split: len(ids) for split, ids in corpus.splits.items()}
    assert sizes == {"train": 929_589, "valid": 73_760, "test": 82_430}
    vocab = corpus.vocab
    assert len(vocab) == 10_000  # the text's own <unk>, no second one
    assert vocab.idx_to_token.count("<unk>") == 1 and "<eos>" in vocab.token_to_idx
    train = corpus.split("train")
    assert vocab.decode(train[:3]) == ["aer", "banknote", "berlitz"]
    eos = vocab.token_to_idx["<eos>"]
    assert (train == eos).sum() == 42_068  # one per line of ptb.train.txt
    assert vocab.decode(train[23:26]) == ["wachter", "<eos>", "pierre"]  # at a line end
    with zipfile.ZipFile(shared_data / "ptb.zip") as archive:  # every held-out word is known:
        valid_unk = archive.read("ptb/ptb.valid.txt").decode().split().count("<unk>")
    assert (corpus.split("valid") == 0).sum() == valid_unk  # id 0 only where the text has <unk>


def test_ptb_is_word_level(write_config):
    with pytest.raises(RnnlabError, match="dataset 'ptb' is word level"):
        check_config(load_config(write_config("data: {dataset: ptb}\n")))


def test_shakespeare_is_split_as_nanogpt_splits_it(write_config, shared_data):
    corpus = load_corpus(write_config, "data: {dataset: shakespeare}\n")
    text = (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")
    n = len(text)
    assert len(corpus.split("train")) == int(n * 0.9) and len(corpus.split("valid")) == n - int(
        n * 0.9
    )
    assert "".join(corpus.vocab.decode(corpus.split("valid")[:50])) == text[int(n * 0.9) :][:50]
    assert "\n" in corpus.vocab.token_to_idx and len(corpus.vocab) == 66  # 65 characters, <unk>
    assert set(corpus.splits) == {"train", "valid"}


# --- newlines and <eos> ---


def test_eos_ends_every_line_including_blank_and_last_ones(write_config, tmp_path):
    (tmp_path / "c.txt").write_text("a b\nc\n\nd e", encoding="utf-8")
    text = f"data: {{dataset: text, path: {tmp_path / 'c.txt'}, token: word, eos: true}}\n"
    cfg = check_config(load_config(write_config(text)))
    tokens = DATASETS.get("text")().read_tokens(cfg).strings()
    assert tokens == ["a", "b", "<eos>", "c", "<eos>", "<eos>", "d", "e", "<eos>"]


def test_text_keeps_newlines_as_tokens_unless_asked_for_spaces(write_config, tmp_path):
    (tmp_path / "play.txt").write_text("ROMEO:\nAy me.\n" * 20, encoding="utf-8")
    base = f"data: {{dataset: text, path: {tmp_path / 'play.txt'}"
    kept = load_corpus(write_config, base + "}\n")
    assert "".join(kept.vocab.decode(kept.split("train")[:14])) == "ROMEO:\nAy me.\n"
    spaced = load_corpus(write_config, base + ", newlines: space}\n")
    assert "\n" not in spaced.vocab.token_to_idx
    assert "".join(spaced.vocab.decode(spaced.split("train")[:14])) == "ROMEO: Ay me. "
    words = load_corpus(write_config, base + ", token: word}\n")
    assert words.vocab.decode(words.split("train")[:5]) == ["ROMEO:", "\n", "Ay", "me.", "\n"]


def test_time_machine_and_jay_chou_keep_d2l_preprocessing_by_default(write_config):
    tm = load_corpus(write_config, "data: {dataset: timemachine, max_tokens: 10000}\n")
    assert len(tm.vocab) == 28 and "\n" not in tm.vocab.token_to_idx
    kept = load_corpus(write_config, "data: {dataset: timemachine, newlines: keep}\n")
    assert "".join(kept.vocab.decode(kept.split("train")[:30])) == "the time machine by h g wells\n"
    jc = load_corpus(write_config, "data: {dataset: jaychou}\n")
    assert "\n" not in jc.vocab.token_to_idx
    jc_kept = load_corpus(write_config, "data: {dataset: jaychou, newlines: keep}\n")
    assert "\n" in jc_kept.vocab.token_to_idx


@pytest.mark.parametrize(
    "config, message",
    [
        ("data: {token: char, eos: true}\n", "data.eos applies to word tokens"),
        ("data: {token: word, eos: true, newlines: space}\n", "not with data.newlines: space"),
    ],
)
def test_eos_config_mistakes(write_config, config, message):
    with pytest.raises(RnnlabError, match=message):
        check_config(load_config(write_config(config)))


# --- split folders ---


@pytest.mark.parametrize(
    "names",
    [
        ("train.txt", "valid.txt", "test.txt"),
        ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
        ("ptb.train.txt", "ptb.valid.txt"),
    ],
)
def test_split_folder_reads_each_split_with_the_training_vocabulary(write_config, tmp_path, names):
    folder = write_split_folder(tmp_path / "corpus", names)
    corpus = load_corpus(
        write_config, f"data: {{dataset: text, path: {folder}, token: word, eos: true}}\n"
    )
    assert (
        set(corpus.splits) == {"train", "valid", "test"} if len(names) == 3 else {"train", "valid"}
    )
    assert len(corpus.split("train")) == 30 * 11
    assert corpus.vocab.decode(corpus.split("valid")[4:10]) == [
        "the",
        "dog",
        "<unk>",
        "on",
        "the",
        "mat",
    ]
    assert "ran" not in corpus.vocab.token_to_idx  # held-out words stay out of the vocabulary


def test_split_folder_mistakes(write_config, tmp_path):
    folder = write_split_folder(tmp_path / "a", ("valid.txt", "test.txt"))
    with pytest.raises(RnnlabError, match="has no train file"):
        load_corpus(write_config, f"data: {{dataset: text, path: {folder}}}\n")
    folder = write_split_folder(
        tmp_path / "b", ("wiki.train.tokens", "wiki.train.raw", "valid.txt")
    )
    with pytest.raises(RnnlabError, match="several train files"):
        load_corpus(write_config, f"data: {{dataset: text, path: {folder}}}\n")


# --- vectorised vocabulary and encoding ---


def test_vectorised_vocabulary_matches_a_plain_count():
    text = "the cat sat\non the mat ünïcode 猫 the end\n" * 3 + "x" * 40 + " cat"
    tokens = tokenize(text, "word")
    words = text.split()
    assert tokens.strings() == words
    vocab = Vocab.build(np.array(words))
    names, counts, firsts, inverse = count(tokens)
    assert [names[i] for i in inverse] == words
    assert dict(zip(names, counts.tolist())) == {w: words.count(w) for w in set(words)}
    assert all(words.index(name) == first for name, first in zip(names, firsts.tolist()))
    assert encode(tokens, vocab.token_to_idx).tolist() == vocab.encode(np.array(words)).tolist()
    chars = tokenize(text, "char")
    assert chars.strings() == list(text)


# --- held-out evaluation ---


def tiny_split_config(write_config, folder: Path, extra: str = "") -> Path:
    return write_config(
        f"""name: heldout
data: {{dataset: text, path: {folder}, token: word, eos: true, batch_size: 4, num_steps: 5{extra}}}
model: {{cell: lstm, hidden_size: 8, embedding: 8}}
optim: {{name: adam, lr: 0.01}}
train: {{epochs: 2, eval_every: 1, sample_len: 4, prefixes: ["the cat"]}}
"""
    )


def hand_mean_loss(model, ids: np.ndarray, streams: int) -> float:
    """The mean loss over every token of `ids` but the first, read as `streams` rows from
    a zero state (the last row also reads the tokens left over), one whole row at a time."""
    ids = torch.as_tensor(ids)
    n = len(ids) - 1
    length = n // streams
    total = 0.0
    with torch.no_grad():
        for s in range(streams):
            end = (s + 1) * length if s < streams - 1 else n
            x, y = ids[s * length : end], ids[s * length + 1 : end + 1]
            logits, _ = model(x.view(1, -1))  # (T, 1, V)
            total += F.cross_entropy(logits[:, 0], y, reduction="sum").item()
    return total / n


@pytest.mark.parametrize("streams", [1, 3, 10])
def test_held_out_loss_reads_every_token_as_streams(write_config, tmp_path, streams):
    folder = write_split_folder(tmp_path / "corpus")
    cfg = load_config(tiny_split_config(write_config, folder, f", eval_batch_size: {streams}"))
    torch.manual_seed(0)
    task = build_task(check_config(cfg), torch.device("cpu"))
    model = task.build_model().eval()
    valid = task.valid.numpy()
    assert (len(valid) - 1) % streams != 0 or streams == 1  # some tokens are left over
    expected = hand_mean_loss(model, valid, streams)
    metrics = task.evaluate(model)
    assert metrics["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert metrics["val_ppl"] == pytest.approx(math.exp(expected), rel=1e-5)
    assert "val_bpc" not in metrics  # words


def test_test_perplexity_of_the_best_checkpoint(write_config, tmp_path):
    folder = write_split_folder(tmp_path / "corpus")
    config = tiny_split_config(write_config, folder, ", eval_batch_size: 1")
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run = Path(result.output.strip().splitlines()[-1])
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["test"]) == {"loss", "ppl"}
    assert f"test (best checkpoint): loss {summary['test']['loss']:.4g}" in result.output
    cfg = load_config(run / "config.yaml")
    vocab = Vocab.load(run / "vocab.json")
    model = LanguageModel(len(vocab), cfg.model)
    model.load_state_dict(torch.load(run / "checkpoints" / "best.pt", weights_only=True)["model"])
    model.eval()
    test_text = (folder / "test.txt").read_text().replace("\n", " <eos> ").split()
    ids = torch.as_tensor([vocab.token_to_idx.get(t, 0) for t in test_text])
    with torch.no_grad():
        logits, _ = model(ids[:-1].view(1, -1))  # (T, 1, V): one stream, every token
        mean = F.cross_entropy(logits[:, 0], ids[1:]).item()
    assert summary["test"]["loss"] == pytest.approx(mean, rel=1e-5)
    assert summary["test"]["ppl"] == pytest.approx(math.exp(mean), rel=1e-5)


def test_character_models_report_bits_per_character(write_config, tmp_path):
    folder = write_split_folder(tmp_path / "corpus")
    text = tiny_split_config(write_config, folder).read_text()
    chars = write_config(text.replace("token: word, eos: true", "token: char"), "char.yaml")
    cfg = check_config(load_config(chars))
    task = build_task(cfg, torch.device("cpu"))
    model = task.build_model()
    val = task.evaluate(model)
    assert val["val_bpc"] == pytest.approx(val["val_loss"] / math.log(2))
    test = task.test(model)
    assert set(test) == {"loss", "ppl", "bpc"} and test["bpc"] == pytest.approx(
        test["loss"] / math.log(2)
    )


# --- generation ---


def degenerate(sample: str, training_text: str, max_run: int = 4) -> str | None:
    """Why a character sample is not sound, or None: an <unk> (never in training text), a
    character repeated more than `max_run` times where the training text never does so,
    or more than a tenth of its character pairs never seen in training."""
    if "<unk>" in sample:
        return "<unk> in the sample"
    for ch in set(sample):
        if ch * (max_run + 1) in sample and ch * (max_run + 1) not in training_text:
            return f"{ch!r} repeated"
    pairs = [sample[i : i + 2] for i in range(len(sample) - 1)]
    unseen = [p for p in pairs if p not in training_text]
    if len(unseen) > len(pairs) / 10:
        return f"unseen pairs {unseen[:5]}"
    return None


def test_the_degeneracy_check_catches_the_reported_samples(shared_data):
    text = (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")
    assert degenerate("ROMEO:MNVVVVVVVV", text)  # greedy from best.pt
    assert degenerate("ROMEO:<unk>FQX<unk>VQq", text)  # temperature 0.8
    assert degenerate("ROMEO:Qxz jqXvbkzq Qzx", text)
    assert degenerate("ROMEO: I will be so fair son of the state,", text) is None  # last.pt


def test_restarts_zero_the_scheduled_streams_only(write_config):
    cfg = check_config(
        load_config(
            write_config(
                "data: {batch_size: 4, num_steps: 5, max_tokens: 4000, restart_every: 8}\n"
                "model: {cell: lstm, hidden_size: 4}\n"
            )
        )
    )
    task = build_task(cfg, torch.device("cpu"))
    task.epoch_batches()
    state = (torch.ones(1, 4, 4), torch.ones(1, 4, 4))
    zeroed = {}
    for i in range(20):
        h, _ = task.restart_streams(state)
        zeroed[i] = [b for b in range(4) if h[0, b].abs().sum() == 0]
    assert all(not zeroed[i] for i in range(8))  # epochs under N batches are unchanged
    assert zeroed[8] == [0] and zeroed[10] == [1] and zeroed[12] == [2] and zeroed[14] == [3]
    assert zeroed[16] == [0] and not zeroed[9]


def shakespeare_run(tmp_path, shared_data) -> Path:
    """A seconds-long character LSTM on the first 40,000 characters of Tiny Shakespeare,
    sequential batches (78 a epoch: its streams restart every 8 batches)."""
    text = (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")[:40_000]
    (tmp_path / "play.txt").write_text(text, encoding="utf-8")
    config = tmp_path / "gen.yaml"
    config.write_text(
        f"""name: gen
data: {{dataset: text, path: {tmp_path / "play.txt"}, valid_fraction: 0.05, batch_size: 16,
       num_steps: 32, restart_every: 8}}
model: {{cell: lstm, hidden_size: 64}}
optim: {{name: adam, lr: 0.01}}
train: {{epochs: 2, eval_every: 1, sample_every: 2, sample_len: 40, prefixes: ["ROMEO:"]}}
""",
        encoding="utf-8",
    )
    argv = ["train", str(config), "--out", str(tmp_path / "runs"), "--quiet"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_samples_from_every_checkpoint_of_a_sequential_model_are_sound(tmp_path, shared_data):
    text = (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")
    run = shakespeare_run(tmp_path, shared_data)
    for which in ("best", "last"):
        for temperature in ("0", "0.8"):
            argv = ["predict", "--run", str(run), "--prefix", "ROMEO:", "-n", "80"]
            result = runner.invoke(
                app, [*argv, "--checkpoint", which, "--temperature", temperature]
            )
            assert result.exit_code == 0, result.output
            sample = result.output.rstrip("\n")
            assert sample.startswith("ROMEO:") and len(sample) >= 80
            assert degenerate(sample, text) is None, (which, temperature, sample)
    assert "\n" in result.output.rstrip("\n")  # newlines are kept, and printed as newlines


def word_run(tmp_path, write_config) -> Path:
    folder = write_split_folder(tmp_path / "corpus")
    config = tiny_split_config(write_config, folder)
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_word_models_predict_words_and_stop_at_eos(tmp_path, write_config):
    run = word_run(tmp_path, write_config)
    argv = ["predict", "--run", str(run), "--prefix", "the  cat", "-n", "30"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    words = result.output.split()
    assert words[:2] == ["the", "cat"] and len(words) == 32  # words joined by single spaces
    assert result.output.startswith("the cat ")
    stopped = runner.invoke(app, [*argv, "--stop-at-eos"])
    assert stopped.exit_code == 0, stopped.output
    assert "<eos>" in words and "<eos>" not in stopped.output.split()
    assert stopped.output.split() == words[: words.index("<eos>")]


def test_unknown_prefix_words_are_one_line_naming_them(tmp_path, write_config):
    run = word_run(tmp_path, write_config)
    argv = ["predict", "--run", str(run), "--prefix", "the zebra cat quagga zebra"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: the prefix has words not in the vocabulary: 'zebra', 'quagga'"]


def test_a_run_with_restarts_resumes_exactly(tmp_path):
    """Restarts depend on the batch index only: a run stopped mid-epoch (SIGINT after step
    11 of 29 a epoch) and resumed matches the whole run bit for bit."""
    from rnnlab.runs import Run
    from rnnlab.runs.progress import Reporter
    from rnnlab.training.interrupt import STOP_AFTER_STEPS_ENV, Interrupted
    from rnnlab.training.resume import resume
    from rnnlab.training.session import train

    config = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
    overrides = ["data.max_tokens=1200", "train.epochs=2", "data.restart_every=4"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole, cut = tmp_path / "whole", tmp_path / "cut"
        train(load_config(config, overrides), tmp_path, Reporter(quiet=True), run_dir=whole)
        os.environ[STOP_AFTER_STEPS_ENV] = "11"
        try:
            with pytest.raises(Interrupted):
                train(load_config(config, overrides), tmp_path, Reporter(quiet=True), run_dir=cut)
        finally:
            os.environ.pop(STOP_AFTER_STEPS_ENV)
        resume(cut, [], Reporter(quiet=True))
    finally:
        torch.set_num_threads(threads)
    timing = {"tokens_per_s", "train_s"}
    rows = [
        [{k: v for k, v in r.items() if k not in timing} for r in Run(d).read_metrics()]
        for d in (whole, cut)
    ]
    assert rows[0] == rows[1] and rows[0][0]["step"] == 29
    a, b = (
        torch.load(d / "checkpoints" / "last.pt", weights_only=True)["model"] for d in (whole, cut)
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
