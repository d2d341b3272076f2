"""Tasks are picked by the dataset's class, read `predict`'s input themselves, and build a
run's model with the same call in training and in `predict`; optimizers come from one
table that agrees with the config schema."""

from __future__ import annotations

import typing

import numpy as np
import pytest
import torch

from rnnlab.config import Config, OptimConfig, load_config
from rnnlab.data import DATASETS, Vocab
from rnnlab.data.base import TextCorpus
from rnnlab.data.digitsum import DigitSum
from rnnlab.data.labelled import ClassifyDataset
from rnnlab.errors import RnnlabError
from rnnlab.tasks import Artifacts, ClassifyTask, LanguageModelTask, build_task, task_for, task_of
from rnnlab.tasks.digitsum import DigitSumTask
from rnnlab.training.optim import OPTIMIZERS, build_optimizer


def test_every_registered_dataset_has_a_task_by_its_class():
    expected = {"timemachine": LanguageModelTask, "jaychou": LanguageModelTask,
                "text": LanguageModelTask, "ptb": LanguageModelTask,
                "shakespeare": LanguageModelTask, "imdb": ClassifyTask, "csv": ClassifyTask,
                "digitsum": DigitSumTask}  # fmt: skip
    from rnnlab.tasks import memory_tasks as memory

    expected.update(adding=memory.AddingTask, copy=memory.CopyTask, digits=memory.DigitsTask,
                    mnist1d=memory.Mnist1dTask,
                    selective_copy=memory.SelectiveCopyTask, recall=memory.RecallTask)  # fmt: skip
    assert {name: task_for(DATASETS.get(name)) for name in DATASETS.names()} == expected


def test_a_new_dataset_gets_its_task_from_its_base_class_without_naming_one():
    class Poems(TextCorpus):
        pass

    class Reviews(ClassifyDataset):
        pass

    class LongerDigits(DigitSum):
        pass

    assert task_for(Poems) is LanguageModelTask and task_for(Reviews) is ClassifyTask
    assert task_for(LongerDigits) is DigitSumTask  # the nearest base wins
    with pytest.raises(RnnlabError, match="no task learns from dataset class object"):
        task_for(object)


def test_each_task_reads_its_own_predict_input():
    cfg = Config()
    vocab = Vocab(["<unk>", "<pad>", *"abcdefghijklmnopqrstuvwxyz ", *"0123456789"])
    lm, cls = Artifacts(vocab), Artifacts(vocab, ["neg", "pos"])
    assert LanguageModelTask.predict_option == "--prefix"
    assert LanguageModelTask.read_input(cfg, lm, "ab c") == ["a", "b", " ", "c"]
    with pytest.raises(RnnlabError, match="the prefix has chars not in the vocabulary: 'Q'"):
        LanguageModelTask.read_input(cfg, lm, "aQ")
    assert ClassifyTask.predict_option == "--text"
    assert ClassifyTask.read_input(cfg, cls, "A fine, film!") == ["a", "fine", ",", "film", "!"]
    assert DigitSumTask.predict_option == "--seq"
    assert DigitSumTask.read_input(cfg, cls, "3 5 0") == ["3", "5", "0"]
    with pytest.raises(RnnlabError, match="--seq takes digits 0-9"):
        DigitSumTask.read_input(cfg, cls, "3 a")


def test_training_and_predict_build_the_same_model(tiny_config):
    cfg = load_config(tiny_config)
    task = build_task(cfg, torch.device("cpu"))
    assert task_of(cfg) is type(task) is LanguageModelTask
    torch.manual_seed(0)
    trained = task.build_model()
    torch.manual_seed(0)
    rebuilt = task_of(cfg).model_for(cfg, Artifacts(task.vocab))
    assert type(rebuilt) is type(trained)
    for (name, a), (_, b) in zip(trained.state_dict().items(), rebuilt.state_dict().items()):
        assert torch.equal(a, b), name


def test_the_optimizer_table_matches_the_schema_and_builds_each_one():
    assert set(typing.get_args(typing.get_type_hints(OptimConfig)["name"])) == set(OPTIMIZERS)
    params = [torch.nn.Parameter(torch.zeros(2))]
    sgd = build_optimizer(OptimConfig(name="sgd", lr=0.5, momentum=0.9), params)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.9
    adamw = build_optimizer(OptimConfig(name="adamw", lr=0.1, weight_decay=0.01), params)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["weight_decay"] == 0.01
    assert np.isclose(adamw.defaults["lr"], 0.1)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_cpu_weights_get_the_fused_optimizer_and_it_steps_like_the_loop(name):
    cfg = OptimConfig(name=name, lr=0.1, weight_decay=0.01)
    torch.manual_seed(0)
    start, grads = torch.randn(5, 3), [torch.randn(5, 3) for _ in range(3)]
    fused_w, loop_w = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    fused = build_optimizer(cfg, [fused_w])
    loop = OPTIMIZERS[name][0]([loop_w], lr=0.1, weight_decay=0.01)  # torch's per-op default
    assert fused.defaults["fused"] is True and not loop.defaults.get("fused")
    for g in grads:
        fused_w.grad, loop_w.grad = g.clone(), g.clone()
        fused.step(), loop.step()
    assert torch.allclose(fused_w, loop_w, atol=1e-6)
    meta = build_optimizer(cfg, [torch.nn.Parameter(torch.zeros(2, device="meta"))])
    assert not meta.defaults.get("fused")  # no fused kernels there: torch's default


def test_check_config_is_the_dataset_and_the_cell_check_in_one_call_without_torch(
    tmp_path, tiny_config
):
    """`rnnlab.tasks.check_config` (train, config show, --resume, sweeps) refuses a key the
    dataset does not accept and an option the cell does not have, passes a good config,
    and imports no torch to do it."""
    import subprocess
    import sys

    bad_dataset = tmp_path / "bad_dataset.yaml"
    bad_dataset.write_text("data: {dataset: ptb, token: char}\n")
    bad_cell = tmp_path / "bad_cell.yaml"
    bad_cell.write_text("model: {cell: mgu, impl: scratch, nonlinearity: relu}\n")
    code = (
        "import sys\n"
        "from rnnlab.config import load_config\n"
        "from rnnlab.errors import RnnlabError\n"
        "from rnnlab.tasks import check_config\n"
        f"for path in ({str(bad_dataset)!r}, {str(bad_cell)!r}):\n"
        "    try:\n        check_config(load_config(path))\n"
        "    except RnnlabError as err:\n        print(err)\n"
        f"print(check_config(load_config({str(tiny_config)!r})).name)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.splitlines() == [
        "dataset 'ptb' is word level: set data.token: word",
        "'model.nonlinearity: relu' is for model.cell: rnn, got mgu",
        "tiny",
    ]
