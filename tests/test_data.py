"""Datasets, vocabularies, samplers and the download code (over loopback)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.config import load_config
from rnnlab.data import DATASETS, Resource, Vocab, fetch
from rnnlab.data.base import char_tokens, split_tokens
from rnnlab.data.sampling import RandomSampler, SequentialSampler
from rnnlab.errors import RnnlabError


def load_corpus(write_config, text: str):
    cfg = load_config(write_config(text))
    return DATASETS.get(cfg.data.dataset)().load(cfg)


# --- vocabulary ---


def test_vocab_orders_by_frequency_then_first_appearance():
    vocab = Vocab.build(char_tokens("abcbcc d"))
    assert vocab.idx_to_token == ["<unk>", "c", "b", "a", " ", "d"]


def test_vocab_min_freq_and_reserved_tokens():
    vocab = Vocab.build(char_tokens("aaabbc"), min_freq=2, reserved=["<pad>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "a", "b"]
    assert vocab.encode(np.array(["a", "c", "b"])).tolist() == [2, 0, 3]


def test_vocab_json_round_trip_keeps_chinese(tmp_path):
    vocab = Vocab.build(char_tokens("分开 不分开"))
    vocab.save(tmp_path / "vocab.json")
    assert "分" in (tmp_path / "vocab.json").read_text(encoding="utf-8")  # readable JSON
    again = Vocab.load(tmp_path / "vocab.json")
    assert again.idx_to_token == vocab.idx_to_token
    assert again.decode(again.encode(char_tokens("不分开"))) == ["不", "分", "开"]


def test_corrupt_vocab_is_a_user_error(tmp_path):
    (tmp_path / "vocab.json").write_text("{not json")
    with pytest.raises(RnnlabError, match="not an rnnlab vocabulary"):
        Vocab.load(tmp_path / "vocab.json")


# --- corpora ---


def test_time_machine_is_preprocessed_as_in_d2l(write_config):
    corpus = load_corpus(write_config, "data: {dataset: timemachine, max_tokens: 10000}\n")
    vocab = corpus.vocab
    assert len(vocab) == 28  # 26 letters, space, <unk>
    assert vocab.idx_to_token[:5] == ["<unk>", " ", "e", "t", "a"]  # d2l's order
    train = corpus.split("train")
    assert len(train) == 10000
    assert "".join(vocab.decode(train[:20])) == "the time machine by "


def test_validation_text_follows_the_capped_training_text(write_config):
    corpus = load_corpus(write_config, "data: {max_tokens: 10000, valid_fraction: 0.1}\n")
    full = load_corpus(write_config, "data: {max_tokens: 100000000, valid_fraction: 0.001}\n")
    stream = full.vocab.decode(np.concatenate([full.split("train"), full.split("valid")]))
    assert len(corpus.split("valid")) == 1000
    assert corpus.vocab.decode(corpus.split("valid")) == stream[10000:11000]


def test_split_without_cap_holds_out_the_end():
    train, valid = split_tokens(np.arange(100), None, 0.2)
    assert train.tolist() == list(range(80)) and valid.tolist() == list(range(80, 100))


def test_word_tokens(write_config):
    corpus = load_corpus(write_config, "data: {token: word, max_tokens: 5000}\n")
    assert corpus.vocab.decode(corpus.split("train")[:4]) == ["the", "time", "machine", "by"]


def test_text_dataset_reads_chinese(write_config, tmp_path):
    (tmp_path / "lyrics.txt").write_text(
        "想要有直升机\n想要和你飞到宇宙去\n" * 20, encoding="utf-8"
    )
    corpus = load_corpus(
        write_config, f"data: {{dataset: text, path: {tmp_path / 'lyrics.txt'}}}\n"
    )
    assert "宇" in corpus.vocab.token_to_idx
    assert "".join(corpus.vocab.decode(corpus.split("train")[:6])) == "想要有直升机"


def test_jaychou_takes_the_first_10000_characters(write_config):
    corpus = load_corpus(write_config, "data: {dataset: jaychou}\n")
    assert len(corpus.split("train")) == 10000
    assert 1000 < len(corpus.vocab) < 1100  # d2l-zh: 1027 distinct characters


@pytest.mark.parametrize(
    "content, message",
    [(b"\xff\xfe\xfa bad", "is not UTF-8 text"), (b"", "has no tokens")],
)
def test_bad_text_files_are_user_errors(write_config, tmp_path, content, message):
    (tmp_path / "corpus.txt").write_bytes(content)
    with pytest.raises(RnnlabError, match=message):
        load_corpus(write_config, f"data: {{dataset: text, path: {tmp_path / 'corpus.txt'}}}\n")


def test_missing_text_file_is_a_user_error(write_config, tmp_path):
    with pytest.raises(RnnlabError, match="data file not found"):
        load_corpus(write_config, f"data: {{dataset: text, path: {tmp_path / 'nope.txt'}}}\n")


# --- samplers ---


def test_sequential_batches_continue_each_other():
    corpus = torch.arange(1000)
    X, Y = SequentialSampler(corpus, batch_size=4, num_steps=7, seed=0).epoch()
    assert X.shape == Y.shape and X.shape[1:] == (4, 7)
    assert torch.equal(Y[:, :, :-1], X[:, :, 1:])  # Y is X shifted by one
    assert torch.equal(X[1:, :, 0], X[:-1, :, -1] + 1)  # row i of batch k+1 follows batch k


def test_random_batches_are_distinct_subsequences():
    corpus = torch.arange(1000)
    X, Y = RandomSampler(corpus, batch_size=4, num_steps=7, seed=0).epoch()
    assert X.shape[1:] == (4, 7)
    assert torch.equal(Y, X + 1)
    starts = X[:, :, 0].flatten()
    assert len(set(starts.tolist())) == len(starts)  # no subsequence twice
    assert len(set((starts % 7).tolist())) == 1  # one random offset per epoch


def test_samplers_are_deterministic_for_a_seed():
    corpus = torch.arange(500)
    a = RandomSampler(corpus, 4, 5, seed=3).epoch()[0]
    b = RandomSampler(corpus, 4, 5, seed=3).epoch()[0]
    assert torch.equal(a, b)


def test_corpus_shorter_than_one_batch_is_refused():
    with pytest.raises(RnnlabError, match="fewer than one batch needs"):
        SequentialSampler(torch.arange(50), batch_size=8, num_steps=10, seed=0)


# --- download, against a server on 127.0.0.1 ---


@pytest.fixture
def http_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(served), **k
    )
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_verifies_checksum_and_caches(http_server, tmp_path):
    served, url = http_server
    (served / "book.txt").write_bytes(b"the time machine")
    sha1 = hashlib.sha1(b"the time machine").hexdigest()
    cache = tmp_path / "cache"
    path = fetch(Resource("book.txt", f"{url}/book.txt", sha1=sha1), cache)
    assert path == cache / "book.txt" and path.read_bytes() == b"the time machine"
    (served / "book.txt").unlink()  # the second fetch must not need the server
    assert fetch(Resource("book.txt", f"{url}/book.txt", sha1=sha1), cache) == path


def test_download_with_bad_checksum_is_refused_and_leaves_nothing(http_server, tmp_path):
    served, url = http_server
    (served / "book.txt").write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(RnnlabError, match="published sha256"):
        fetch(Resource("book.txt", f"{url}/book.txt", sha256="0" * 64), cache)
    assert list(cache.iterdir()) == []


def test_offline_error_says_where_to_put_the_file(http_server, tmp_path):
    _, url = http_server
    with pytest.raises(RnnlabError, match=r"put it at .*book.txt"):
        fetch(Resource("book.txt", f"{url}/missing.txt", sha1="0" * 40), tmp_path)


def test_corrupt_cached_file_is_reported(tmp_path):
    (tmp_path / "book.txt").write_bytes(b"half a bo")
    with pytest.raises(RnnlabError, match="does not match its published sha1"):
        fetch(Resource("book.txt", "http://127.0.0.1:9/x", sha1="0" * 40), tmp_path)


def test_shared_time_machine_matches_the_d2l_checksum():
    from rnnlab.data.text import TIME_MACHINE

    assert Path(fetch(TIME_MACHINE)).stat().st_size == 178979
