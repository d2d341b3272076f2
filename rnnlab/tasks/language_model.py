"""Language modelling (d2l chapter 8): predict each next token of a corpus."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rnnlab.config import Config
from rnnlab.data.base import Corpus
from rnnlab.data.sampling import make_sampler
from rnnlab.models import LanguageModel, detach_state
from rnnlab.runs.plots import plot_curves
from rnnlab.tasks.generate import generate, join_tokens, split_prefix

from .base import BatchResult, Task


class LanguageModelTask(Task):
    key_metric = "val_ppl"
    higher_is_better = False

    def __init__(self, cfg: Config, device: torch.device, corpus: Corpus):
        self.cfg, self.device, self.vocab = cfg, device, corpus.vocab
        train = torch.as_tensor(corpus.split("train"), device=device)  # (N,)
        self.valid = torch.as_tensor(corpus.split("valid"), device=device)  # (M,)
        d = cfg.data
        self.sampler = make_sampler(d.sampling, train, d.batch_size, d.num_steps, cfg.seed)
        self.state = None  # carried between batches by the sequential sampler

    def build_model(self) -> LanguageModel:
        return LanguageModel(len(self.vocab), self.cfg.model)

    def save_artifacts(self, run) -> None:
        self.vocab.save(run.vocab_path)

    def epoch_batches(self, skip: int = 0):
        X, Y = self.sampler.epoch()  # (num_batches, B, T) each
        if not skip:  # a resumed epoch goes on with the carried state (`set_carried`)
            self.state = None
        return zip(X[skip:], Y[skip:])

    def batches_per_epoch(self) -> int:
        d = self.cfg.data
        return max(1, len(self.sampler.corpus) // (d.batch_size * d.num_steps))

    def loss(self, model, batch):
        X, Y = batch  # (B, T) each
        state = detach_state(self.state) if self.sampler.continues_state else None
        logits, self.state = model(X, state)  # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.T.reshape(-1))
        return BatchResult(loss, Y.numel(), Y.numel())

    def train_metrics(self, mean_loss: float) -> dict:
        return {"train_loss": mean_loss, "train_ppl": math.exp(min(mean_loss, 700))}

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        """Perplexity on the validation text, read as parallel streams carrying the state."""
        model.eval()
        T = self.cfg.data.num_steps
        streams = max(1, min(self.cfg.data.batch_size, (len(self.valid) - 1) // T))
        length = (len(self.valid) - 1) // streams
        X = self.valid[: streams * length].view(streams, length)  # (S, L)
        Y = self.valid[1 : streams * length + 1].view(streams, length)
        total, state = torch.zeros((), device=self.device), None
        for t in range(0, length, T):
            logits, state = model(X[:, t : t + T], state)  # (T, S, V)
            y = Y[:, t : t + T].T.reshape(-1)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y, reduction="sum")
        model.train()
        mean = total.item() / Y.numel()
        return {"val_loss": mean, "val_ppl": math.exp(min(mean, 700))}

    def samples(self, model) -> list[str]:
        token, n = self.cfg.data.token, self.cfg.train.sample_len
        texts = []
        for prefix in self.cfg.train.prefixes:
            tokens = split_prefix(prefix, token)
            if tokens and not self.vocab.unknown(tokens):
                texts.append(join_tokens(tokens + generate(model, self.vocab, tokens, n), token))
        return texts

    def plot(self, run, rows, x) -> None:
        plot_curves(
            run.plot_path("perplexity"),
            rows,
            {"train_ppl": "train", "val_ppl": "validation"},
            ylabel="perplexity (log scale)",
            title=f"{self.cfg.name}: {self.cfg.model.impl} {self.cfg.model.cell} on {self.cfg.data.dataset}",
            x=x,
            logy=True,
        )

    def state_dict(self) -> dict:
        return {"sampler_rng": self.sampler.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.generator.set_state(state["sampler_rng"])

    def carried(self):
        return detach_state(self.state) if self.sampler.continues_state else None

    def set_carried(self, carried) -> None:
        self.state = carried
