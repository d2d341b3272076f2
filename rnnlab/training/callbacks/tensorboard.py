"""`train.tensorboard: true` (or `rnnlab train CFG --tensorboard`): TensorBoard event
files in RUN/tensorboard/, so `tensorboard --logdir runs/` (or a sweep folder) shows a
run's curves and compares runs in its HParams table.

What is written, all against the optimizer step (metrics.csv's `step` column):
- `metrics/<column>`: every metrics.csv column but `step` (epoch, train_loss, val_ppl, ...);
- `lr`: the first parameter group's learning rate at each metrics row;
- `samples`: the generated text of each sampling epoch (samples.txt), as text;
- `grad_norm/<parameter>`: gradient norms, with `train.log_grad_norms` (grad_norms.csv);
- HParams: the config's keys with the final, best and test metrics (`hparams/...`).

Rows are written once complete: a row is sent on the step after its log point (or at the
epoch's end / the end of training), so columns other callbacks add are in it too. A
resumed run appends to the same folder: the callback's state (the last step it wrote)
travels in last.pt, and the writer opens with `purge_step` one past last.pt's step, so
TensorBoard drops whatever an earlier process wrote after that checkpoint; nothing is
written twice. Turning it on at --resume writes the earlier rows first.
"""

from __future__ import annotations

import csv
import json

from rnnlab.config import config_to_dict
from rnnlab.config.load import flatten_dotted
from rnnlab.errors import RnnlabError

from .base import CALLBACKS, Callback

INSTALL = "pip install 'rnnlab[tensorboard]'"


@CALLBACKS.register("tensorboard")
def tensorboard(session) -> Callback | None:
    if not session.cfg.train.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RnnlabError(
            f"train.tensorboard needs TensorBoard, which is not installed: {INSTALL}"
        ) from None
    return TensorBoard(SummaryWriter)


class TensorBoard(Callback):
    def __init__(self, writer_class):
        self.writer_class = writer_class
        self.writer = None
        self.step = -1  # the last metrics row's step written
        self.sample_epoch = 0  # the last epoch whose samples are written
        self.grad_step = 0  # the last gradient-norm step written
        self.epoch_steps: dict[int, int] = {}  # epoch -> step at its end (samples' step)
        self.grad_mtime = None

    def state_dict(self) -> dict:
        return {"step": self.step, "sample_epoch": self.sample_epoch, "grad_step": self.grad_step}

    def load_state_dict(self, state: dict) -> None:
        self.step = state.get("step", -1)
        self.sample_epoch = state.get("sample_epoch", 0)
        self.grad_step = state.get("grad_step", 0)

    def on_train_start(self, s, state) -> None:
        purge = state.step + 1 if state.step else None  # resumed: drop what came after last.pt
        self.writer = self.writer_class(str(s.run.dir / "tensorboard"), purge_step=purge)
        for row in state.rows:  # a run resumed with tensorboard newly on: its earlier rows
            self.epoch_steps[row["epoch"]] = row["step"]
        self.write_rows(s, state)

    def on_step(self, s, state) -> None:
        if state.rows and state.rows[-1]["step"] > self.step:  # a row was logged last step
            self.write_rows(s, state)

    def on_epoch_end(self, s, state) -> None:
        self.epoch_steps[state.epoch] = state.step
        self.write_rows(s, state)
        self.write_samples(s)
        self.write_grad_norms(s)
        self.writer.flush()

    def on_train_end(self, s, state, status: str) -> None:
        if self.writer is None:
            return
        self.epoch_steps.setdefault(state.epoch, state.step)
        self.write_rows(s, state)
        self.write_samples(s)
        self.write_grad_norms(s)
        self.write_hparams(s, state, status)
        self.writer.close()

    def write_rows(self, s, state) -> None:
        """Every metrics row not yet written, and the learning rate beside it."""
        lr = s.optimizer.param_groups[0]["lr"]
        for row in state.rows:
            if row["step"] <= self.step:
                continue
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"metrics/{key}", value, row["step"])
            self.writer.add_scalar("lr", lr, row["step"])
            self.step = row["step"]

    def write_samples(self, s) -> None:
        """samples.txt's epochs not yet written, one text per epoch (all its prefixes)."""
        if not s.run.samples_path.is_file():
            return
        by_epoch: dict[int, list[str]] = {}
        for line in s.run.samples_path.read_text(encoding="utf-8").splitlines():
            head, _, text = line.partition("\t")
            epoch = int(head.removeprefix("epoch ")) if head.startswith("epoch ") else None
            if epoch is not None and epoch > self.sample_epoch and epoch in self.epoch_steps:
                by_epoch.setdefault(epoch, []).append(text)
        for epoch, texts in sorted(by_epoch.items()):
            shown = "\n\n".join(f"`{text}`" for text in texts)  # Markdown: one paragraph each
            self.writer.add_text("samples", shown, self.epoch_steps[epoch])
            self.sample_epoch = epoch

    def write_grad_norms(self, s) -> None:
        """grad_norms.csv's steps not yet written (the loop refreshes that file)."""
        path = s.run.grad_norms_path
        if not path.is_file() or path.stat().st_mtime_ns == self.grad_mtime:
            return
        self.grad_mtime = path.stat().st_mtime_ns
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                step = int(row.pop("step"))
                if step <= self.grad_step:
                    continue
                for name, value in row.items():
                    self.writer.add_scalar(f"grad_norm/{name}", float(value), step)
                self.grad_step = step

    def write_hparams(self, s, state, status: str) -> None:
        """The config as hyper-parameters, with the final, best and test metrics, in the
        HParams plugin of this run's own folder (one row per run in its table)."""
        from torch.utils.tensorboard.summary import hparams

        metrics = {}
        final = state.rows[-1] if state.rows else {}
        for key, value in final.items():
            if key not in ("epoch", "step") and isinstance(value, (int, float)):
                metrics[f"hparams/final_{key}"] = value
        if state.best is not None:
            metrics[f"hparams/best_{s.task.key_metric}"] = state.best
        for key, value in (getattr(state, "test", None) or {}).items():
            metrics[f"hparams/{key if key.startswith('test_') else 'test_' + key}"] = value
        params = {k: hparam_value(v) for k, v in flatten_dotted(config_to_dict(s.cfg)).items()}
        params = {k: v for k, v in params.items() if not k.startswith("sweep.")}
        params["status"] = status
        for summary in hparams(params, metrics):
            self.writer.file_writer.add_summary(summary)
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, state.step)


def hparam_value(value):
    """A config value as an HParams value: numbers, strings and booleans as they are."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value)
