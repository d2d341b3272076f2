"""Config loading: defaults, overrides, and every way a config can be wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from rnnlab.config import Config, config_from_dict, dump_config, load_config
from rnnlab.data import check_config
from rnnlab.errors import RnnlabError
from rnnlab.models import check_model


def test_shipped_config_loads_with_its_values(tiny_config):
    cfg = load_config(tiny_config)
    assert cfg.name == "tiny"
    assert cfg.data.batch_size == 4 and cfg.data.max_tokens == 2000
    assert cfg.model.cell == "gru" and cfg.model.embedding == "one_hot"
    assert cfg.optim.name == "adam" and cfg.optim.lr == 0.01


def test_defaults_fill_missing_sections(write_config):
    cfg = load_config(write_config("name: x\n"))
    assert cfg.data == Config().data and cfg.train.epochs == Config().train.epochs


def test_overrides_are_parsed_as_yaml_scalars(tiny_config):
    cfg = load_config(
        tiny_config,
        [
            "model.hidden_size=128",
            "optim.lr=0.5",
            "optim.clip=null",
            "model.embedding=8",
            "train.prefixes=[a, b]",
            "name=other",
        ],
    )
    assert cfg.model.hidden_size == 128 and cfg.optim.lr == 0.5 and cfg.optim.clip is None
    assert cfg.model.embedding == 8 and cfg.train.prefixes == ["a", "b"] and cfg.name == "other"


def test_float_written_in_yaml_1_1_exponent_form_is_accepted(write_config):
    # PyYAML reads `1e-3` (no dot) as a string; a user means a number.
    assert load_config(write_config("optim: {lr: 1e-3}\n")).optim.lr == 0.001


def test_ints_widen_to_float_but_not_the_reverse(write_config):
    assert load_config(write_config("optim: {lr: 1}\n")).optim.lr == 1.0
    with pytest.raises(RnnlabError, match="'model.hidden_size' must be an integer"):
        load_config(write_config("model: {hidden_size: 2.5}\n"))


def test_dump_round_trips(tiny_config):
    cfg = load_config(tiny_config, ["model.embedding=16"])
    assert config_from_dict(yaml.safe_load(dump_config(cfg))) == cfg


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "model: {hiden_size: 3}\n",
            "unknown key 'model.hiden_size'; did you mean 'model.hidden_size'?",
        ),
        ("modle: {}\n", "unknown key 'modle'; did you mean 'model'?"),
        ("optim: {learning_rate: 0.1}\n", "unknown key 'optim.learning_rate'"),
        ("data: {batch_size: 0}\n", "'data.batch_size' must be > 0, got 0"),
        ("optim: {lr: -1}\n", "'optim.lr' must be > 0, got -1.0"),
        ("optim: {lr: fast}\n", "'optim.lr' must be a number, got a string 'fast'"),
        (
            "model: {cell: gur}\n",
            "'model.cell' must be one of gru | indrnn | lru | lstm | mgu | mingru | minlstm | rnn | s6, got 'gur'; did you mean 'gru'?",
        ),
        ("model: {dropout: 1.0}\n", "'model.dropout' must be < 1, got 1.0"),
        ("model: {bidirectional: yes please}\n", "'model.bidirectional' must be true or false"),
        ("model: {embedding: onehot}\n", "'model.embedding' must be one_hot or an integer"),
        ("model: {embedding: 0}\n", "'model.embedding' must be one_hot or > 0"),
        ("data: {valid_fraction: 1.5}\n", "'data.valid_fraction' must be < 1, got 1.5"),
        ("data: {sampling: shuffled}\n", "'data.sampling' must be one of random | sequential"),
        (
            "data: {dataset: timemachin}\n",
            "unknown dataset 'timemachin'; did you mean 'timemachine'?",
        ),
        ("data: {dataset: text}\n", "dataset 'text' needs data.path"),
        ("data: 3\n", "'data' must be a mapping of keys, got an integer"),
        ("train: {prefixes: time}\n", "'train.prefixes' must be a list"),
        ("train: {epochs: true}\n", "'train.epochs' must be an integer, got a boolean True"),
        ("device: gpu\n", "'device' must be auto, cpu, cuda, cuda:N or mps, got 'gpu'"),
        ("- a\n- b\n", "a config must be a mapping of sections, got a list"),
        ("model:\n  cell: gru\n   hidden_size: 3\n", "line 3, column 15: YAML syntax error"),
    ],
)
def test_bad_config_is_one_clear_line(write_config, text, message):
    with pytest.raises(RnnlabError) as err:
        # the schema, then the dataset's own keys, then the cell's
        check_model(check_config(load_config(write_config(text))).model)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "model.hiden_size=3",
            "unknown override key 'model.hiden_size'; did you mean 'model.hidden_size'?",
        ),
        ("model=3", "'model' must be a mapping of keys"),
        ("optim.lr.x=1", "'lr' is a value, not a section"),
        ("optim.lr", "override 'optim.lr' is not KEY=VALUE"),
        ("data.batch_size=-4", "'data.batch_size' must be > 0, got -4"),
    ],
)
def test_bad_override_is_one_clear_line(tiny_config, override, message):
    with pytest.raises(RnnlabError, match=None) as err:
        load_config(tiny_config, [override])
    assert message in str(err.value)


def test_conflicting_overrides_are_refused(tiny_config):
    with pytest.raises(RnnlabError, match="conflicting overrides for 'optim.lr'"):
        load_config(tiny_config, ["optim.lr=0.1", "optim.lr=0.2"])


def test_missing_config_file(tmp_path):
    with pytest.raises(RnnlabError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_errors_do_not_import_torch(write_config):
    path = write_config("model: {hiden_size: 3}\n")
    code = (
        "import sys\n"
        "from rnnlab.config import load_config\n"
        "from rnnlab.errors import RnnlabError\n"
        f"try:\n    load_config({str(path)!r})\nexcept RnnlabError:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cell_checks_do_not_import_torch(write_config):
    path = write_config("model: {cell: mgu, impl: scratch, nonlinearity: relu}\n")
    code = (
        "import sys\n"
        "from rnnlab.config import load_config\n"
        "from rnnlab.errors import RnnlabError\n"
        "from rnnlab.models import check_model\n"
        f"try:\n    check_model(load_config({str(path)!r}).model)\n"
        "except RnnlabError as err:\n    print(err)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "'model.nonlinearity: relu' is for model.cell: rnn, got mgu" in out.stdout
