"""The one training loop for every task (`fit`), and what it works on (`Session`).

Per batch: forward, backward, clip, step. Per log point (each epoch, or every
`train.eval_every_steps` steps): log, evaluate, keep the best checkpoint. Per epoch: save
last.pt and sample. `fit` reads as those phases, each a function below; what else happens
(schedules, the gradient-norm log, plots, early stop) is a callback
(`rnnlab/training/callbacks/`). `session.py` sets a session up and runs it to the end."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import torch
from torch import nn

from rnnlab.config import Config
from rnnlab.runs import Run
from rnnlab.runs.progress import Reporter
from rnnlab.tasks import BatchResult, Task
from rnnlab.training.callbacks import Callback
from rnnlab.training.checkpoint import TrainState, payload
from rnnlab.training.interrupt import Interrupted, StopSignals
from rnnlab.training.log_every import LogEvery
from rnnlab.training.nanguard import NanGuard
from rnnlab.training.precision import Precision


class Window:
    """Training numbers summed on the device between two log points (no host sync)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.loss = torch.zeros((), device=self.device)
        self.sums: dict[str, torch.Tensor] = {}
        self.n, self.tokens, self.started = 0, 0, time.perf_counter()

    def add(self, result: BatchResult) -> None:
        self.loss += result.loss.detach() * result.n
        for key, value in result.sums.items():
            self.sums[key] = self.sums.get(key, 0) + value.detach()
        self.n, self.tokens = self.n + result.n, self.tokens + result.tokens

    def means(self) -> tuple[float, dict[str, float], float]:
        """(mean loss, {key: mean per example}, seconds), with one host sync; nan for a
        window whose every step was skipped (train.on_nan=skip)."""
        values = torch.stack([self.loss, *(v.float() for v in self.sums.values())]).tolist()
        n = self.n or float("nan")
        extras = {k: v / n for k, v in zip(self.sums, values[1:])}
        return values[0] / n, extras, time.perf_counter() - self.started

    def state_dict(self) -> dict:
        seconds = time.perf_counter() - self.started  # the window's training time so far
        return {
            "loss": self.loss,
            "sums": dict(self.sums),
            "n": self.n,
            "tokens": self.tokens,
            "seconds": seconds,
        }

    def load_state_dict(self, state: dict) -> None:
        """The sums of a stopped run's window; its clock goes on from the time it had run
        (so a resumed epoch's tokens/s counts the tokens and seconds of both parts, not
        the downtime). Checkpoints from before the clock was saved restart it."""
        self.loss = state["loss"].to(self.device)
        self.sums = {k: v.to(self.device) for k, v in state["sums"].items()}
        self.n, self.tokens = state["n"], state["tokens"]
        self.started = time.perf_counter() - state.get("seconds", 0.0)


@dataclass
class Session:
    """What a training session works on: built by `train` (new run) or `resume`."""

    cfg: Config
    run: Run | None  # set by `train` once the model fits, before training
    task: Task
    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    compiled: bool
    precision: Precision  # train.precision: autocast (and the GradScaler for 16-mixed)
    callbacks: list[Callback] = field(default_factory=list)  # set by build_session


def fit(s: Session, reporter: Reporter, state: TrainState) -> TrainState:
    """The training loop: per batch forward, backward, clip, step; per log point (each
    epoch, or every train.eval_every_steps steps) log, evaluate and keep the best
    checkpoint; per epoch save last.pt and sample. Callbacks (`s.callbacks`) are called at
    each of these points; one that gives a stop reason (early stop, a time limit) ends
    training there as if it were the last epoch. On SIGINT or SIGTERM it finishes the
    step, saves last.pt there and raises `Interrupted`."""
    assert s.run is not None, "a session is fitted in its run folder (set by train or resume)"
    t = s.cfg.train
    loop = Loop(s, reporter, state)  # the metrics window, the nan guard, the last.pt timer
    for callback in s.callbacks:
        callback.load_state_dict(state.callbacks.get(callback.name) or {})
        callback.on_train_start(s, state)
    reporter.start(t.epochs, done=state.epoch)
    try:
        with StopSignals() as stop:
            for epoch in range(state.epoch + 1, t.epochs + 1):
                s.model.train()
                state.epoch_start = s.task.state_dict()  # what this epoch's batches come from
                for batch in s.task.epoch_batches(skip=state.batch):
                    # forward, backward, clip, step (train.on_nan=skip: not on nan or inf)
                    train_step(loop, batch, epoch)
                    # log and evaluate every train.eval_every_steps steps
                    if t.eval_every_steps and state.step % t.eval_every_steps == 0:
                        log_point(loop, epoch, evaluate=True)
                    elif loop.every.due(state.step) and loop.window.n:  # long epochs: so far
                        reporter.progress_line(epoch, state.step, progress_row(s.task, loop.window))
                    # SIGINT or SIGTERM: last.pt resumes right after this step
                    if stop.requested(state.step) and stop.signum is not None:
                        stop_here(loop, epoch, stop.signum)
                    # a callback's stop (early stop, time limit): end as the last epoch does
                    state.stop_reason = first_stop_reason(s.callbacks)
                    if state.stop_reason:
                        break
                # log, evaluate and checkpoint at the epoch's end (or where a callback stopped)
                last = end_epoch(loop, epoch)
                # sample
                if epoch % t.sample_every == 0 or last:
                    sample(loop, epoch)
                if state.stop_reason:
                    reporter.message(f"stopped: {state.stop_reason}")
                    break
    finally:
        reporter.stop()
    return state


@dataclass
class Loop:
    """What the loop's phases share: the session, its progress, and the loop's own parts."""

    s: Session
    reporter: Reporter
    state: TrainState
    window: Window = field(init=False)  # training sums since the last metrics row
    guard: NanGuard = field(init=False)  # train.on_nan
    checkpoints: Every = field(init=False)  # last.pt every train.checkpoint_every seconds
    every: LogEvery = field(init=False)  # long epochs: a progress line every N steps

    def __post_init__(self):
        self.window = Window(self.s.device)
        if self.state.window is not None:  # resumed: the sums since the last metrics row
            self.window.load_state_dict(self.state.window)
        self.guard = NanGuard(self.s.cfg.train.on_nan, self.s.device, self.s.cfg.optim)
        self.checkpoints = Every(self.s.cfg.train.checkpoint_every, first=self.state.epoch == 0)
        self.every = LogEvery(self.s.cfg.train.log_every_steps, self.s.task.batches_per_epoch())


def train_step(loop: Loop, batch, epoch: int) -> None:
    """One optimizer step on `batch`, with its callbacks."""
    s, state, t = loop.s, loop.state, loop.s.cfg.train
    with s.precision.autocast():  # train.precision: autocast to bf16 or float16
        result = s.task.loss(s.model, batch)
    objective = minimised(result, t.loss_reduction)
    # backward (16-mixed: of the scaled loss, then the true gradients again)
    s.optimizer.zero_grad(set_to_none=True)
    s.precision.backward(objective)
    s.precision.unscale(s.optimizer)
    for callback in s.callbacks:
        callback.on_after_backward(s, state)  # the gradients before clipping
    norm = clip_gradients(s.model, s.cfg.optim.clip, need_norm=t.on_nan == "skip")
    if not s.precision.finite_norm_expected():
        norm = None  # an overflow under the scaler is the scaler's to skip
    if loop.guard.allows(result.loss, norm):
        s.precision.step(s.optimizer)
        loop.window.add(result)
    else:
        state.skipped += 1
    state.step, state.batch = state.step + 1, state.batch + 1
    loop.guard.watch(result.loss, epoch, state.step)
    for callback in s.callbacks:
        callback.on_step(s, state)


def log_point(loop: Loop, epoch: int, evaluate: bool) -> None:
    """A metrics row: the training window's means, and the evaluation if `evaluate`;
    best.pt when it improves the key metric."""
    s, state, task = loop.s, loop.state, loop.s.task
    loop.guard.check()  # train.on_nan=stop: Diverged if a loss was nan or inf
    mean_loss, extras, seconds = loop.window.means()  # the window's one host sync
    row = {"epoch": epoch, "step": state.step, **task.train_metrics(mean_loss), **extras}
    row.update(tokens_per_s=loop.window.tokens / seconds, train_s=seconds)
    with evaluation_weights(s):  # optim.average: evaluate and keep the average
        if evaluate:
            row.update(task.evaluate(s.model))
        for callback in s.callbacks:
            callback.on_log_point(s, state, row, evaluate)
        state.rows.append(row)
        if evaluate and task.is_better(score := row[task.key_metric], state.best):
            state.best, state.best_epoch, state.best_step = score, epoch, state.step
            save(s, "best", state, loop.window)
    assert s.run is not None
    s.run.write_metrics(state.rows)
    loop.reporter.epoch(row, evaluate)
    for callback in s.callbacks:
        callback.on_metrics(s, state)
    loop.window.reset()


def end_epoch(loop: Loop, epoch: int) -> bool:
    """The epoch's log point, callbacks and last.pt; whether it is the last epoch."""
    s, state, t = loop.s, loop.state, loop.s.cfg.train
    last = epoch == t.epochs or state.stop_reason is not None
    if state.stop_reason and state.batch:  # stopped mid-epoch: not a whole epoch
        state.batch, state.epoch_start = 0, None
    else:
        state.epoch, state.batch, state.epoch_start = epoch, 0, None
    if t.eval_every_steps is None:
        log_point(loop, epoch, evaluate=epoch % t.eval_every == 0 or last)
    elif last and loop.window.n:
        log_point(loop, epoch, evaluate=True)
    loop.guard.check()
    for callback in s.callbacks:
        callback.on_epoch_end(s, state)
    state.stop_reason = state.stop_reason or first_stop_reason(s.callbacks)
    last = last or state.stop_reason is not None
    # last.pt: at the end, after the first epoch, then every train.checkpoint_every s
    if last or loop.checkpoints.due():
        save(s, "last", state, loop.window)
        loop.checkpoints.done()
    loop.reporter.advance(epoch)
    return last


def sample(loop: Loop, epoch: int) -> None:
    """The task's samples (generated text), with the evaluation weights."""
    s = loop.s
    with evaluation_weights(s):
        texts = s.task.samples(s.model)
    if texts:
        assert s.run is not None
        s.run.append_samples("".join(f"epoch {epoch}\t{text}\n" for text in texts))
        loop.reporter.samples(epoch, texts)


def stop_here(loop: Loop, epoch: int, signum: int) -> None:
    """Save where we are (last.pt, metrics.csv), then raise `Interrupted`."""
    s, state = loop.s, loop.state
    loop.guard.check()
    save(s, "last", state, loop.window)
    assert s.run is not None
    if state.rows:
        s.run.write_metrics(state.rows)
    where = f"after step {state.step} (epoch {epoch}, batch {state.batch})"
    raise Interrupted(signum, s.run.dir, where + ", last.pt saved")


class Every:
    """A timer for work done every `seconds` (0: every time), and at the first chance when
    `first` (so a run that has done an epoch always has a last.pt)."""

    def __init__(self, seconds: float, first: bool):
        self.seconds = seconds
        self.last = float("-inf") if first or seconds == 0 else time.perf_counter()

    def due(self) -> bool:
        return time.perf_counter() - self.last >= self.seconds

    def done(self) -> None:
        self.last = time.perf_counter()


def evaluation_weights(s: Session) -> ExitStack:
    """The weights to evaluate, keep and sample with: the callbacks' (optim.average swaps
    its average in), else the model's own."""
    stack = ExitStack()
    for callback in s.callbacks:
        stack.enter_context(callback.evaluation_weights(s))
    return stack


def minimised(result: BatchResult, reduction: str) -> torch.Tensor:
    """What the step minimises: the mean loss plus the regularisers (AR, TAR; never
    reported), or, with train.loss_reduction=sum, both summed over the batch's examples."""
    objective = result.loss if result.penalty is None else result.loss + result.penalty
    return objective * result.n if reduction == "sum" else objective


def progress_row(task: Task, window: Window) -> dict:
    """The training figures of the window so far (one host sync; nothing is reset)."""
    mean_loss, extras, seconds = window.means()
    return {**task.train_metrics(mean_loss), **extras, "tokens_per_s": window.tokens / seconds}


def first_stop_reason(callbacks: list[Callback]) -> str | None:
    return next((r for r in (c.stop_reason() for c in callbacks) if r), None)


def clip_gradients(model: nn.Module, clip: float | None, need_norm: bool):
    """Clip the global gradient norm to `clip` (optim.clip); the norm before clipping, when
    clipping or asked for (train.on_nan=skip), else None."""
    if clip is not None:
        return nn.utils.clip_grad_norm_(model.parameters(), clip)
    if need_norm:
        return nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    return None


def save(s: Session, which: str, state: TrainState, window: Window) -> None:
    """A checkpoint: state_dicts plus config and metadata, loadable with weights_only=True."""
    callbacks = {c.name: c.state_dict() for c in s.callbacks}
    ckpt = payload(s.cfg, s.task, s.model, s.optimizer, state, window, callbacks)
    ckpt["precision"] = s.precision.state_dict()  # the GradScaler's scale (16-mixed)
    assert s.run is not None, "a session saves into its run folder"
    s.run.save_checkpoint(which, ckpt)
