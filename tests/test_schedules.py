"""Learning-rate schedules, early stopping and the time limit: each schedule's lr
against a hand computation, plateau and early stop on a scripted metric sequence, a time
limit that ends a run cleanly, and exact resumes with each schedule and mid-run counters."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from rnnlab.config import load_config
from rnnlab.errors import RnnlabError
from rnnlab.runs import Run, load_checkpoint
from rnnlab.runs.progress import Reporter, format_row
from rnnlab.training.callbacks.early_stop import EarlyStop
from rnnlab.training.callbacks.schedule import (
    BudgetCosine,
    CosineSchedule,
    PlateauSchedule,
    StepSchedule,
    cosine_lr,
)
from rnnlab.training.checkpoint import TrainState
from rnnlab.training.interrupt import STOP_AFTER_STEPS_ENV, Interrupted
from rnnlab.training.resume import resume
from rnnlab.training.session import train

REPO = Path(__file__).resolve().parents[1]
TIMING = {"tokens_per_s", "train_s"}
# tiny.yaml cut to 5 batches an epoch: seconds per run even on a busy machine
TINY = ["data.max_tokens=220", "train.sample_len=3", "model.hidden_size=8"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class LowerIsBetter:
    key_metric, higher_is_better = "val_ppl", False

    def __init__(self, per_epoch: int = 10):
        self.per_epoch = per_epoch

    def batches_per_epoch(self) -> int:
        return self.per_epoch

    def is_better(self, value, best):
        return best is None or value < best


def session(overrides: list[str], epochs: int = 5, per_epoch: int = 10):
    """A stand-in for the loop's Session: the config, an SGD optimizer, a task."""
    cfg = load_config(REPO / "configs" / "tiny.yaml", [*overrides, f"train.epochs={epochs}"])
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=cfg.optim.lr)
    return SimpleNamespace(cfg=cfg, optimizer=optimizer, task=LowerIsBetter(per_epoch))


def epoch_lrs(callback, s, epochs: int) -> list[float]:
    """The lr each epoch trains with, driving the hooks as the loop does (3 steps an epoch)."""
    state, lrs = TrainState(), []
    for epoch in range(1, epochs + 1):
        for _ in range(3):
            s.optimizer.step()
            state.step += 1
            callback.on_step(s, state)
        row = {"epoch": epoch, "val_ppl": 10.0}
        callback.on_log_point(s, state, row, evaluated=True)
        lrs.append(row["lr"])
        state.epoch = epoch
        callback.on_epoch_end(s, state)
    return lrs


def test_step_schedule_is_zaremba_halving_after_epoch_4():
    overrides = ["optim.name=sgd", "optim.lr=1", "optim.schedule=step", "optim.gamma=0.5"]
    s = session([*overrides, "optim.start=4"])
    lrs = epoch_lrs(StepSchedule(s), s, 8)
    assert lrs == [1, 1, 1, 1, 0.5, 0.25, 0.125, 0.0625]  # Zaremba: lr * 0.5^max(e - 4, 0)


def test_step_schedule_every_step_size_epochs_is_torch_steplr():
    overrides = ["optim.lr=0.8", "optim.schedule=step", "optim.gamma=0.1", "optim.step_size=3"]
    s = session(overrides)
    lrs = epoch_lrs(StepSchedule(s), s, 7)
    hand = [0.8 * 0.1 ** ((e - 1) // 3) for e in range(1, 8)]  # StepLR, 1-based epochs
    assert lrs == pytest.approx(hand, rel=1e-12)
    assert lrs[2] == 0.8 and lrs[3] < 0.8  # the first multiplication after epoch 3


def step_lrs(callback, s, steps: int) -> list[float]:
    """The lr each of `steps` optimizer steps takes, driving on_step as the loop does."""
    state, used = TrainState(), []
    for _ in range(steps):
        used.append(s.optimizer.param_groups[0]["lr"])
        s.optimizer.step()
        state.step += 1
        callback.on_step(s, state)
    return used


def test_cosine_schedule_matches_nanogpt_formula_per_step():
    overrides = ["optim.lr=0.01", "optim.schedule=cosine", "optim.warmup_steps=4"]
    s = session([*overrides, "optim.min_lr=0.001"], epochs=2, per_epoch=10)  # 20 steps
    used = step_lrs(CosineSchedule(s), s, 25)
    hand = []
    for it in range(25):  # nanoGPT train.py get_lr, with lr_decay_iters = 20
        if it < 4:
            hand.append(0.01 * (it + 1) / 5)
        elif it >= 20:
            hand.append(0.001)
        else:
            coeff = 0.5 * (1 + math.cos(math.pi * (it - 4) / 16))
            hand.append(0.001 + coeff * (0.01 - 0.001))
    assert used == pytest.approx(hand, rel=1e-12)
    assert used[4] == pytest.approx(0.01) and used[3] < used[4] > used[5]


def test_inverse_sqrt_warms_up_then_decays_as_one_over_sqrt_step():
    from rnnlab.training.callbacks.inverse_sqrt import InverseSqrt

    overrides = ["optim.lr=0.02", "optim.schedule=inverse_sqrt", "optim.warmup_steps=4"]
    s = session(overrides)
    used = step_lrs(InverseSqrt(s), s, 16)
    hand = [0.02 * min(n / 4, math.sqrt(4 / n)) for n in range(1, 17)]  # steps n = 1, 2, ...
    assert used == pytest.approx(hand, rel=1e-12)
    assert used[3] == pytest.approx(0.02) and used[15] == pytest.approx(0.01)  # peak; half at 4x
    s = session(["optim.lr=0.02", "optim.schedule=inverse_sqrt"])  # no warm-up: lr / sqrt(n)
    assert step_lrs(InverseSqrt(s), s, 4)[3] == pytest.approx(0.02 / 2)  # step n = 4


def test_a_budget_cosine_ends_its_decay_where_the_time_limit_ends_the_run(monkeypatch):
    """A scripted clock: 0.1 s a step, a 100 s budget. Peak lr until 50 steps are timed,
    then decay_steps = 50 + 0.95 x 95 s / 0.1 s = 952, kept through a checkpoint."""
    now = [0.0]
    monkeypatch.setattr("time.perf_counter", lambda: now[0])
    overrides = ["optim.lr=0.01", "optim.schedule=cosine", "optim.decay_steps=budget"]
    s = session([*overrides, "optim.min_lr=0.001", "train.time_limit=100s"], epochs=1000)
    callback, state, used = BudgetCosine(s), TrainState(), []
    callback.on_train_start(s, state)
    for _ in range(60):
        used.append(s.optimizer.param_groups[0]["lr"])
        s.optimizer.step()
        now[0] += 0.1
        state.step += 1
        callback.on_step(s, state)
    assert used[:50] == pytest.approx([0.01] * 50, rel=1e-12)  # the peak until fitted
    assert used[50] < used[49]  # fitted after step 50: the decay from step 51 on
    assert callback.decay == 952 and callback.summary() == {"decay_steps": 952}
    assert used[59] == pytest.approx(cosine_lr(59, 0.01, 0, 952, 0.001), rel=1e-12)
    again = BudgetCosine(session([*overrides, "optim.min_lr=0.001", "train.time_limit=100s"]))
    again.load_state_dict(callback.state_dict())  # a resume: not fitted again
    again.on_train_start(s, state)
    assert again.decay == 952 and again.fitted
    assert again.clock.elapsed() == pytest.approx(6.0)  # the budget spent before the resume


def test_budget_decay_needs_a_time_limit():
    overrides = ["optim.schedule=cosine", "optim.decay_steps=budget"]
    with pytest.raises(RnnlabError, match="'optim.decay_steps: budget' .* set train.time_limit"):
        load_config(REPO / "configs" / "tiny.yaml", overrides)
    with pytest.raises(RnnlabError, match="'optim.decay_steps' must be an integer or budget"):
        load_config(
            REPO / "configs" / "tiny.yaml", ["optim.schedule=cosine", "optim.decay_steps=soon"]
        )


def test_a_budget_cosine_run_records_its_fitted_decay(tmp_path):
    """A real run: the decay is fitted once, in summary.json, and the lr falls after it."""
    args = ["optim.schedule=cosine", "optim.decay_steps=budget", "train.time_limit=4s"]
    folder = run([*args, "train.epochs=100000", "train.eval_every=10"], tmp_path)
    summary = Run(folder).read_summary()
    assert summary["status"] == "finished" and summary["stop_reason"].startswith("time_limit")
    assert BudgetCosine.FIT_AFTER < summary["decay_steps"]
    lrs = [row["lr"] for row in Run(folder).read_metrics()]
    assert lrs[-1] < lrs[0] and lrs == sorted(lrs, reverse=True)


def test_plateau_divides_on_a_scripted_metric_sequence():
    overrides = ["optim.name=sgd", "optim.lr=20", "optim.schedule=plateau", "optim.factor=4"]
    s = session(overrides)
    callback, state, lrs = PlateauSchedule(s), TrainState(), []
    for value in [300.0, 200.0, 210.0, 190.0, 190.0, 195.0, 150.0]:
        row = {"val_ppl": value}
        callback.on_log_point(s, state, row, evaluated=True)
        lrs.append((row["lr"], s.optimizer.param_groups[0]["lr"]))
    # pytorch/examples: lr /= 4 after each evaluation that is not a new best
    after = [20, 20, 5, 5, 1.25, 0.3125, 0.3125]
    assert [b for _, b in lrs] == after
    assert [a for a, _ in lrs] == [20, *after[:-1]]  # each row shows the lr it trained with


def test_plateau_patience_waits():
    overrides = ["optim.lr=1", "optim.schedule=plateau", "optim.factor=2", "optim.patience=1"]
    s = session(overrides)
    callback, state = PlateauSchedule(s), TrainState()
    for value in [5.0, 6.0, 6.0, 6.0]:
        callback.on_log_point(s, state, {"val_ppl": value}, evaluated=True)
    assert s.optimizer.param_groups[0]["lr"] == 0.5  # the second bad one divides, then resets


def test_early_stop_on_a_scripted_metric_sequence():
    stop, task = EarlyStop(2, LowerIsBetter()), None
    reasons = []
    for value in [9.0, 8.0, 8.5, 7.0, 7.5, 7.2]:
        stop.on_log_point(task, None, {"val_ppl": value}, evaluated=True)
        reasons.append(stop.stop_reason())
    assert reasons[:5] == [None] * 5  # 8.5 was one bad evaluation, then 7.0 improved
    assert reasons[5] == "early_stop: val_ppl did not improve in 2 evaluations (best 7)"
    stop.on_log_point(task, None, {"val_ppl": 1.0}, evaluated=False)  # no evaluation: no count
    assert stop.bad == 2 and stop.best == 7.0
    stop.on_log_point(task, None, {"val_ppl": 6.0}, evaluated=True)
    assert stop.stop_reason() is None and stop.bad == 0


def run(overrides: list[str], out: Path, stop_after: int | None = None) -> Path:
    """tiny.yaml trained in this process; with `stop_after`, SIGINT after that step."""
    cfg = load_config(REPO / "configs" / "tiny.yaml", [*TINY, *overrides])
    folder = out / "run"
    os.environ[STOP_AFTER_STEPS_ENV] = str(stop_after or "")
    try:
        train(cfg, out, Reporter(quiet=True), run_dir=folder)
        assert stop_after is None, "the run was not interrupted"
    except Interrupted:
        assert stop_after is not None
    finally:
        os.environ.pop(STOP_AFTER_STEPS_ENV)
    return folder


def rows(folder: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in Run(folder).read_metrics()]


def test_a_scheduled_run_logs_the_lr_and_shows_it(tmp_path):
    folder = run(["optim.schedule=step", "optim.gamma=0.5", "train.epochs=3"], tmp_path)
    assert [r["lr"] for r in Run(folder).read_metrics()] == [0.01, 0.005, 0.0025]
    assert "lr 0.0025" in format_row(Run(folder).read_metrics()[-1])


RESUMED = {  # 4 epochs of 5 steps; each stopped in the middle of epoch 4
    "step": ["optim.schedule=step", "optim.gamma=0.5", "optim.start=1"],
    "cosine": ["optim.schedule=cosine", "optim.warmup_steps=3", "optim.min_lr=0.001"],
    "inverse_sqrt": ["optim.schedule=inverse_sqrt", "optim.warmup_steps=3"],
    # lr 0.3: epoch 3 is worse than epoch 2, so the lr is halved before the stop
    "plateau": ["optim.schedule=plateau", "optim.factor=2", "model.dropout=0.5", "optim.lr=0.3"],
    # the same: one bad evaluation counted when it stops
    "early_stop": ["train.early_stop=5", "optim.lr=0.3"],
}


def mid_run_state(name: str, callbacks: dict, stopped_at: int):
    """What each callback must have counted by the stop (so the test covers it)."""
    if name == "early_stop":
        return callbacks["early_stop"]["bad"] == 1
    scheduler = callbacks["schedule"]["scheduler"]
    if name == "plateau":
        return scheduler["_last_lr"] == [0.15]
    return scheduler["last_epoch"] == (3 if name == "step" else stopped_at)


@pytest.mark.parametrize("name", sorted(RESUMED))
def test_resume_is_exact_with_each_schedule_and_early_stop(tmp_path, name):
    overrides = [*RESUMED[name], "train.epochs=4", "model.num_layers=2"]
    whole = run(overrides, tmp_path / "whole")
    stop_after = 3 * Run(whole).read_metrics()[0]["step"] + 2  # mid-epoch 4
    folder = run(overrides, tmp_path / "cut", stop_after=stop_after)
    state = load_checkpoint(folder / "checkpoints" / "last.pt")["callbacks"]
    assert mid_run_state(name, state, stop_after), state  # the counters travel in last.pt
    resume(folder, [], Reporter(quiet=True))
    assert rows(folder) == rows(whole)
    a, b = (load_checkpoint(f / "checkpoints" / "last.pt") for f in (folder, whole))
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]
    assert a["callbacks"] == b["callbacks"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_early_stop_ends_a_run_finished_with_its_reason(tmp_path):
    # lr 30 with SGD: the validation perplexity gets worse, so it stops after 1 bad epoch
    folder = run(
        ["train.early_stop=1", "optim.name=sgd", "optim.lr=30", "train.epochs=8"], tmp_path
    )
    summary = Run(folder).read_summary()
    assert summary["status"] == "finished"
    assert summary["stop_reason"].startswith("early_stop: val_ppl did not improve in 1")
    metrics = Run(folder).read_metrics()
    assert len(metrics) == summary["epochs"] < 8
    assert metrics[-1]["val_ppl"] >= metrics[-2]["val_ppl"]
    assert (folder / "checkpoints" / "best.pt").is_file()


def test_time_limit_ends_a_run_cleanly_after_the_first_step_past_it(tmp_path):
    folder = run(["train.time_limit=0.001s", "train.epochs=50"], tmp_path)
    summary = Run(folder).read_summary()
    assert summary["status"] == "finished" and summary["steps"] == 1
    assert summary["stop_reason"] == "time_limit: 0.001s reached after step 1"
    assert summary["time_limit_s"] == 0.001
    (row,) = Run(folder).read_metrics()  # evaluated where it stopped
    assert row["step"] == 1 and row["val_ppl"] > 0
    for which in ("best", "last"):
        assert load_checkpoint(folder / "checkpoints" / f"{which}.pt")["step"] == 1
    assert "epoch 1\t" in (folder / "samples.txt").read_text()  # sampled like a last epoch


def test_a_run_stopped_by_its_time_limit_resumes_once_the_limit_is_raised(tmp_path):
    folder = run(["train.time_limit=0.001s", "train.epochs=2"], tmp_path)
    with pytest.raises(
        RnnlabError, match="stopped at its train.time_limit .* train.time_limit=null"
    ):
        resume(folder, [], Reporter(quiet=True))
    with pytest.raises(RnnlabError, match="raise or clear it"):
        resume(folder, ["train.time_limit=0.0005s"], Reporter(quiet=True))
    resume(folder, ["train.time_limit=null"], Reporter(quiet=True))
    summary = Run(folder).read_summary()
    assert summary["status"] == "finished" and summary["epochs"] == 2
    assert "stop_reason" not in summary
