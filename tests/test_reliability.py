"""What rnnlab guarantees (docs/reliability.md): checkpoints cannot run code, the config
loader only ever raises its own error, files are replaced atomically, a run folder is never
overwritten, and the same seed gives the same run on CPU. (Interruptions and resumption:
tests/test_resume.py; nan losses: tests/test_divergence.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import config_from_dict, load_config
from rnnlab.config.load import parse_overrides, set_dotted
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run, load_checkpoint
from rnnlab.runs.fileio import write_with
from rnnlab.runs.progress import Reporter
from rnnlab.training.session import train


class Payload:
    """Unpickling this object creates a file: proof that loading ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "trap": Payload(marker)}, path)
    with pytest.raises(RnnlabError, match="refused to load .*could run code"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [(b"", "truncated or not a checkpoint"), (b"garbage" * 100, "truncated or not a checkpoint")],
)
def test_garbage_checkpoints_are_user_errors(tmp_path, content, message):
    (tmp_path / "bad.pt").write_bytes(content)
    with pytest.raises(RnnlabError, match=message):
        load_checkpoint(tmp_path / "bad.pt")


def test_a_truncated_checkpoint_is_a_user_error(tmp_path):
    torch.save({"model": {"w": torch.zeros(1000)}}, tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(RnnlabError, match="truncated or not a checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("old\n")

    def crash(f):
        f.write(b"half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_with(path, crash)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no temporary left


KEYS = ["data", "model", "optim", "train", "sweep", "name", "seed", "device", "dataset",
        "cell", "lr", "hidden_size", "embedding", "grid", "seeds", "clip", "max_tokens"]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8)
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=5), st.integers())
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, trees, max_size=5))
def test_fuzzed_configs_raise_only_rnnlab_errors(raw):
    try:
        config_from_dict(raw)
    except RnnlabError as err:
        assert "\n" not in str(err)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=3))
def test_fuzzed_overrides_raise_only_rnnlab_errors(items):
    raw: dict = {}
    try:
        for key, value in parse_overrides(items).items():
            set_dotted(raw, key, value)
        config_from_dict(raw)
    except RnnlabError as err:
        assert "\n" not in str(err)


def test_a_run_folder_is_never_overwritten(tiny_config, tmp_path):
    first, second = Run.create(tmp_path, "same"), Run.create(tmp_path, "same")  # same second
    assert first.dir != second.dir and first.dir.name in second.dir.name
    (first.dir / "mine.txt").write_text("keep")
    with pytest.raises(RnnlabError, match="already exists; it is never overwritten"):
        train(load_config(tiny_config), tmp_path, Reporter(quiet=True), run_dir=first.dir)
    assert [p.name for p in first.dir.iterdir()] == ["mine.txt"]


def test_the_same_seed_gives_the_same_run_bit_for_bit(tiny_config, tmp_path, one_thread):
    """Two CPU runs of tiny.yaml with one seed: identical metrics (but for timings) and
    identical weights in last.pt. (On CUDA this is documented, not promised.)"""
    runs = [
        train(load_config(tiny_config), tmp_path / str(i), Reporter(quiet=True)) for i in (1, 2)
    ]
    timing = {"tokens_per_s", "train_s"}
    a, b = (
        [{k: v for k, v in r.items() if k not in timing} for r in run.read_metrics()]
        for run in runs
    )
    assert a == b and len(a) == 3
    wa, wb = (run.load_checkpoint("last")["model"] for run in runs)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert runs[0].samples_path.read_text() == runs[1].samples_path.read_text()
