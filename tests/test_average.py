"""optim.average (training/callbacks/average.py): the uniform and exponential averages
against a hand computation, the swap for evaluation, best.pt holding the average that was
evaluated, exact resume, and the config checks of its keys."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from test_schedules import REPO, rows, run

from rnnlab.config import load_config
from rnnlab.errors import RnnlabError
from rnnlab.runs import load_checkpoint
from rnnlab.runs.progress import Reporter
from rnnlab.training.callbacks.average import WeightAverage
from rnnlab.training.checkpoint import TrainState
from rnnlab.training.resume import resume

WEIGHTS = [1.0, 2.0, 4.0, 8.0, 16.0]  # the parameter's value after steps 1..5


def averaged(kind: str, start: int, decay: float = 0.5) -> tuple[WeightAverage, torch.nn.Linear]:
    """A 1-weight model whose weight is WEIGHTS[k] after step k + 1, averaged as the loop does."""
    model = torch.nn.Linear(1, 1, bias=False)
    callback, state = WeightAverage(model, kind, start, decay), TrainState()
    for w in WEIGHTS:
        with torch.no_grad():
            model.weight.fill_(w)
        state.step += 1
        callback.on_step(SimpleNamespace(), state)
    return callback, model


def test_uniform_is_the_mean_of_the_weights_from_the_start_step():
    callback, _ = averaged("uniform", start=2)
    assert callback.average[0].item() == pytest.approx((2 + 4 + 8 + 16) / 4)
    assert callback.n == 4


def test_ema_is_the_hand_computed_moving_average():
    callback, _ = averaged("ema", start=3, decay=0.5)
    expected = 4.0  # step 3: the weight itself, then avg += 0.5 (w - avg)
    for w in (8.0, 16.0):
        expected += 0.5 * (w - expected)
    assert callback.average[0].item() == pytest.approx(expected)  # 11.0


def test_evaluation_sees_the_average_and_training_the_raw_weights():
    callback, model = averaged("uniform", start=1)
    with callback.evaluation_weights(None):
        assert model.weight.item() == pytest.approx(sum(WEIGHTS) / 5)
    assert model.weight.item() == 16.0
    before, _ = averaged("uniform", start=9)  # no step averaged yet: nothing to swap
    with before.evaluation_weights(None):
        assert before.params[0].item() == 16.0


def test_best_pt_holds_the_average_it_was_evaluated_with(tmp_path):
    folder = run(["optim.average=uniform", "optim.average_start=3", "train.epochs=2"], tmp_path)
    last = load_checkpoint(folder / "checkpoints" / "last.pt")
    state = last["callbacks"]["average"]
    assert state["n"] == last["step"] - 3 + 1
    params = [v for k, v in last["model"].items()]  # tiny.yaml's model: parameters only
    assert len(params) == len(state["average"])
    assert not all(torch.equal(p, a) for p, a in zip(params, state["average"]))  # raw in last.pt
    best = load_checkpoint(folder / "checkpoints" / "best.pt")
    for p, a in zip(best["model"].values(), best["callbacks"]["average"]["average"]):
        assert torch.equal(p, a)  # best.pt's model is the average that scored best


def test_resume_is_exact_with_an_average(tmp_path):
    overrides = ["optim.average=ema", "optim.average_decay=0.9", "train.epochs=4"]
    whole = run(overrides, tmp_path / "whole")
    folder = run(overrides, tmp_path / "cut", stop_after=17)  # mid-epoch 4
    resume(folder, [], Reporter(quiet=True))
    assert rows(folder) == rows(whole)
    a, b = (load_checkpoint(f / "checkpoints" / "last.pt") for f in (folder, whole))
    assert a["callbacks"]["average"]["n"] == b["callbacks"]["average"]["n"] == 20
    for x, y in zip(a["callbacks"]["average"]["average"], b["callbacks"]["average"]["average"]):
        assert torch.equal(x, y)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["optim.average_start=5"], "'optim.average_start' is for optim.average: uniform or ema"),
        (
            ["optim.average=uniform", "optim.average_decay=0.9"],
            "'optim.average_decay' is for optim.average: ema, not uniform",
        ),
        (["optim.average=ema", "optim.average_decay=1.5"], "optim.average_decay"),
        (["optim.average=mean"], "optim.average"),
    ],
)
def test_average_keys_are_checked(overrides, message):
    with pytest.raises(RnnlabError, match=message):
        load_config(REPO / "configs" / "tiny.yaml", overrides)
