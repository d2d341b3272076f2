"""rnnlab/training/loop.py on its own: the `Window` of training sums between log points,
and where `fit` logs, evaluates and keeps the best checkpoint (each epoch, every
train.eval_every epochs, every train.eval_every_steps steps, after the last), driven by a
scripted task whose losses and validation scores are known in advance."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnlab.config import load_config
from rnnlab.runs import Run
from rnnlab.runs.progress import Reporter
from rnnlab.tasks import BatchResult, Task
from rnnlab.training.checkpoint import TrainState
from rnnlab.training.loop import Session, Window, fit
from rnnlab.training.precision import Precision

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
CPU = torch.device("cpu")


def result(loss: float, n: int, tokens: int, **sums: float) -> BatchResult:
    return BatchResult(torch.tensor(loss), n, tokens, {k: torch.tensor(v) for k, v in sums.items()})


# --- Window ---
def test_window_means_are_weighted_by_the_batch_sizes():
    window = Window(CPU)
    window.add(result(2.0, n=3, tokens=30, train_acc=2.0))
    window.add(result(4.0, n=1, tokens=10, train_acc=1.0))
    loss, extras, seconds = window.means()
    assert loss == pytest.approx((2.0 * 3 + 4.0 * 1) / 4)
    assert extras == {"train_acc": pytest.approx(3 / 4)}
    assert (window.n, window.tokens) == (4, 40) and seconds >= 0


def test_window_keeps_no_autograd_graph():
    window = Window(CPU)
    weight = torch.ones((), requires_grad=True)
    window.add(BatchResult(weight * 3, 2, 5, {"train_acc": weight * 2}))
    assert not window.loss.requires_grad and not window.sums["train_acc"].requires_grad


def test_window_reset_starts_over_and_an_empty_window_is_nan():
    window = Window(CPU)
    window.add(result(5.0, n=2, tokens=8, train_acc=1.0))
    window.reset()
    assert (window.n, window.tokens, window.sums) == (0, 0, {})
    loss, extras, _ = window.means()  # every step skipped (train.on_nan=skip)
    assert math.isnan(loss) and extras == {}
    window.add(result(1.0, n=1, tokens=4))
    assert window.means()[0] == 1.0


def test_window_state_dict_round_trip():
    window = Window(CPU)
    window.add(result(2.0, n=3, tokens=30, train_acc=2.0))
    again = Window(CPU)
    again.load_state_dict(window.state_dict())
    window.add(result(6.0, n=1, tokens=10, train_acc=1.0))
    again.add(result(6.0, n=1, tokens=10, train_acc=1.0))
    assert window.means()[:2] == again.means()[:2]
    assert (again.n, again.tokens) == (4, 40)


def test_a_resumed_window_keeps_its_clock():
    """tokens/s of an epoch resumed halfway: the seconds before the stop count too (without
    them a resumed PTB epoch reported 148k tokens/s instead of ~3k)."""
    window = Window(CPU)
    window.add(result(2.0, n=3, tokens=30))
    window.started -= 50.0  # the first part of the epoch took 50 s
    again = Window(CPU)
    again.load_state_dict(window.state_dict())
    assert again.means()[2] == pytest.approx(50.0, abs=1.0)


# --- fit's log points ---
class Scripted(Task):
    """`batches` batches an epoch; the k-th training step's loss is k (1, 2, 3...), and the
    i-th evaluation scores `scores[i]` (lower is better)."""

    key_metric = "val_score"
    higher_is_better = False

    def __init__(self, batches: int, scores: list[float]):
        self.batches, self.scores, self.steps, self.evaluations = batches, scores, 0, 0

    def build_model(self) -> nn.Module:
        torch.manual_seed(0)
        return nn.Linear(1, 1)

    def epoch_batches(self, skip: int = 0):
        return range(skip, self.batches)

    def loss(self, model, batch) -> BatchResult:
        self.steps += 1
        out = model(torch.ones(1, 1)).sum()  # a graph to backpropagate through
        return BatchResult(out - out.detach() + self.steps, 1, 1)  # value: the step number

    def evaluate(self, model) -> dict:
        self.evaluations += 1
        return {"val_score": self.scores[self.evaluations - 1]}


def fit_scripted(tmp_path: Path, task: Scripted, *overrides: str) -> tuple[TrainState, Run]:
    cfg = load_config(TINY, ["optim.clip=null", *overrides])
    model = task.build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    run = Run.create(tmp_path, "loop")
    precision = Precision(cfg.train.precision, CPU)
    session = Session(cfg, run, task, model, optimizer, CPU, compiled=False, precision=precision)
    return fit(session, Reporter(quiet=True), TrainState()), run


def logged(state: TrainState, *keys: str) -> list[tuple]:
    return [tuple(row.get(k) for k in keys) for row in state.rows]


def test_a_log_point_each_epoch_evaluating_every_eval_every_and_at_the_last(tmp_path):
    task = Scripted(batches=4, scores=[3.0, 2.0])
    state, run = fit_scripted(tmp_path, task, "train.epochs=3", "train.eval_every=2")
    # one row per epoch, the mean of its own 4 steps' losses (the window starts over)
    assert logged(state, "epoch", "step", "train_loss") == [(1, 4, 2.5), (2, 8, 6.5), (3, 12, 10.5)]
    assert logged(state, "val_score") == [(None,), (3.0,), (2.0,)]  # epoch 2, and the last
    assert (state.best, state.best_epoch, state.best_step) == (2.0, 3, 12)
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2, 3]
    assert run.load_checkpoint("best")["step"] == 12
    assert run.load_checkpoint("last")["epoch"] == 3


def test_log_points_every_n_steps_across_epochs_and_after_the_last_step(tmp_path):
    task = Scripted(batches=4, scores=[5.0, 3.0, 4.0])
    state, run = fit_scripted(tmp_path, task, "train.epochs=2", "train.eval_every_steps=3")
    # steps 3 and 6 (the window spans the epoch's end), then what is left after step 8
    assert logged(state, "epoch", "step", "train_loss") == [(1, 3, 2.0), (2, 6, 5.0), (2, 8, 7.5)]
    assert logged(state, "val_score") == [(5.0,), (3.0,), (4.0,)]  # every log point evaluates
    assert (state.best, state.best_epoch, state.best_step) == (3.0, 2, 6)
    assert run.load_checkpoint("best")["step"] == 6  # best.pt is the best log point's
    assert run.load_checkpoint("last")["step"] == 8


def test_no_extra_log_point_when_the_last_step_was_one(tmp_path):
    task = Scripted(batches=4, scores=[1.0, 2.0])
    state, _ = fit_scripted(tmp_path, task, "train.epochs=2", "train.eval_every_steps=4")
    assert logged(state, "step") == [(4,), (8,)] and task.evaluations == 2
    assert (state.best, state.best_step) == (1.0, 4)  # a worse score keeps the old best


def test_callbacks_see_the_gradients_before_clipping_and_each_written_row(tmp_path):
    """on_after_backward comes between backward and the clip (the norm is the raw one);
    on_metrics after each metrics row is in state.rows and metrics.csv."""
    from rnnlab.training.callbacks import Callback

    seen: list = []

    class Probe(Callback):
        def on_after_backward(self, s, state):
            grad = s.model.weight.grad.norm().item()  # d(out)/dw = 1: norm 1 each step
            seen.append(("grad", state.step, grad))

        def on_metrics(self, s, state):
            seen.append(("rows", len(state.rows), len(s.run.read_metrics())))

    task = Scripted(batches=2, scores=[1.0, 2.0])
    cfg = load_config(TINY, ["optim.clip=0.01", "train.epochs=2"])
    model = task.build_model()
    run = Run.create(tmp_path, "loop")
    session = Session(cfg, run, task, model, torch.optim.SGD(model.parameters(), lr=0.0), CPU,
                      compiled=False, precision=Precision(32, CPU))  # fmt: skip
    session.callbacks = [Probe()]
    fit(session, Reporter(quiet=True), TrainState())
    assert seen == [("grad", 0, 1.0), ("grad", 1, 1.0), ("rows", 1, 1),
                    ("grad", 2, 1.0), ("grad", 3, 1.0), ("rows", 2, 2)]  # fmt: skip
    clipped = torch.stack([p.grad.norm() for p in model.parameters()]).norm().item()
    assert clipped == pytest.approx(0.01)  # the global norm, clipped after the hook
