"""Language modelling (d2l chapter 8): predict each next token of a corpus.

Validation and test read their held-out text as `data.eval_batch_size` parallel streams
(pytorch/examples' `eval_batch_size`, default 10) carrying the state from one chunk of
`data.num_steps` tokens to the next, and score every token but the first: the standard
held-out perplexity, not an estimate. Character models also report bits per character
(bpc = loss / ln 2). A corpus with a test split (ptb, a split folder) is tested once,
with the best checkpoint: summary.json's `test` holds `loss`, `ppl` (and `bpc`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from rnnlab.config import Config
from rnnlab.data.base import Corpus, TextCorpus
from rnnlab.data.sampling import make_sampler
from rnnlab.data.tokens import EOS
from rnnlab.errors import RnnlabError
from rnnlab.models import LanguageModel, detach_state
from rnnlab.runs.plots import plot_curves
from rnnlab.tasks.generate import check_prefix, generate, generate_chunks, join_tokens, split_prefix

from .base import TASKS, Artifacts, BatchResult, Task, unknown_split


@TASKS.register("language_model")
class LanguageModelTask(Task):
    serves = TextCorpus
    predict_option = "--prefix"
    key_metric = "val_ppl"
    higher_is_better = False

    def __init__(self, cfg: Config, device: torch.device, corpus: Corpus):
        self.cfg, self.device, self.vocab = cfg, device, corpus.vocab
        # the training text stays in its smallest integer type (batches are widened as
        # they are used); the held-out texts, a fraction of it, are int64
        train = torch.as_tensor(corpus.split("train"), device=device)  # (N,)
        self.valid = torch.as_tensor(corpus.split("valid"), device=device).long()  # (M,)
        self.reports_test = "test" in corpus.splits
        if self.reports_test:
            self.test_ids = torch.as_tensor(corpus.split("test"), device=device).long()  # (K,)
        d = cfg.data
        self.sampler = make_sampler(d.sampling, train, d.batch_size, d.num_steps, cfg.seed)
        self.state = None  # carried between batches by the sequential sampler
        self.batch_index = 0  # of the next batch in the epoch (data.restart_every)

    def split_names(self) -> tuple[str, ...]:
        """The splits of this corpus, held-out first."""
        return ("valid", "test", "train") if self.reports_test else ("valid", "train")

    def split_ids(self, split: str) -> torch.Tensor:
        """The token ids (M,) of one split, on the task's device; RnnlabError for a split
        the corpus does not have."""
        if split == "test" and not self.reports_test:
            raise RnnlabError(
                f"{self.cfg.data.dataset} has no test split here (ptb and split folders with "
                "a test file have one): use --split valid"
            )
        if split not in self.split_names():
            raise unknown_split(split, self.split_names())
        if split == "test":
            return self.test_ids
        return self.valid if split == "valid" else self.sampler.corpus.long()

    def artifacts(self) -> Artifacts:
        return Artifacts(self.vocab)

    @classmethod
    def model_for(cls, cfg, artifacts: Artifacts) -> LanguageModel:
        return LanguageModel(len(artifacts.vocab), cfg.model)

    def save_artifacts(self, run) -> None:
        self.vocab.save(run.vocab_path)

    def epoch_batches(self, skip: int = 0):
        X, Y = self.sampler.epoch()  # (num_batches, B, T) each
        if not skip:  # a resumed epoch goes on with the carried state (`set_carried`)
            self.state = None
        self.batch_index = skip
        return ((x.long(), y.long()) for x, y in zip(X[skip:], Y[skip:]))  # (B, T) int64

    def batches_per_epoch(self) -> int:
        d = self.cfg.data
        return max(1, len(self.sampler.corpus) // (d.batch_size * d.num_steps))

    def loss(self, model, batch):
        X, Y = batch  # (B, T) each
        state = detach_state(self.state) if self.sampler.continues_state else None
        state = self.restart_streams(state)
        loss, penalty, self.state = model.loss(X, Y, state)  # mean over B * T predictions
        return BatchResult(loss, Y.numel(), Y.numel(), penalty=penalty)

    def restart_streams(self, state):
        """The carried state with the streams due to restart zeroed (data.restart_every = N):
        from batch N of an epoch on, stream b restarts at batches i with (i - b N / B) % N
        == 0, so each stream starts cold every N batches and some stream every N / B. A
        model trained on carried state otherwise sees the zero state that generation and
        evaluation start from once per epoch, and may forget how to read from it
        (docs/language_models.md, "Generation"). Epochs under N batches are unchanged."""
        i, self.batch_index = self.batch_index, self.batch_index + 1
        every = self.cfg.data.restart_every
        if state is None or every is None or i < every:
            return state
        B = self.cfg.data.batch_size
        rows = [b for b in range(B) if (i - b * every // B) % every == 0]
        if not rows:
            return state
        keep = torch.ones(B, device=self.device)
        keep[rows] = 0.0
        return scale_rows(state, keep)

    def train_metrics(self, mean_loss: float) -> dict:
        return {"train_loss": mean_loss, "train_ppl": math.exp(min(mean_loss, 700))}

    def evaluate(self, model) -> dict:
        """Validation loss and perplexity (and bpc for characters) over every token."""
        return self.held_out_metrics(self.mean_loss(model, self.valid), "val_")

    def test(self, model) -> dict:
        """The same figures on the test split: summary.json's test.loss, test.ppl (test.bpc)."""
        return self.held_out_metrics(self.mean_loss(model, self.test_ids), "")

    def held_out_metrics(self, mean: float, prefix: str) -> dict:
        metrics = {f"{prefix}loss": mean, f"{prefix}ppl": math.exp(min(mean, 700))}
        if self.cfg.data.token == "char":
            metrics[f"{prefix}bpc"] = mean / math.log(2)
        return metrics

    @torch.no_grad()
    def mean_loss(self, model, ids: torch.Tensor) -> float:
        """The mean next-token loss over a held-out text `ids` (M,): every token after the
        first is predicted once, reading S = data.eval_batch_size streams that carry the
        state over chunks of data.num_steps; the M - 1 - S * L tokens left over continue
        the last stream, whose text they follow."""
        was_training = model.training
        model.eval()
        n = len(ids) - 1  # predictions
        streams = max(1, min(self.cfg.data.eval_batch_size, n))
        length = n // streams
        X = ids[: streams * length].view(streams, length)  # (S, L)
        Y = ids[1 : streams * length + 1].view(streams, length)  # (S, L)
        total, state = self.stream_loss(model, X, Y, None)
        if n > streams * length:  # the rest follows the last stream's text
            rest_x = ids[streams * length : n].view(1, -1)  # (1, R)
            rest_y = ids[streams * length + 1 : n + 1].view(1, -1)  # (1, R)
            total = total + self.stream_loss(model, rest_x, rest_y, last_row(state))[0]
        model.train(was_training)
        return total.item() / n

    def stream_loss(self, model, X: torch.Tensor, Y: torch.Tensor, state):
        """(summed loss, final state) of reading the rows of X (S, L) as streams."""
        total = torch.zeros((), device=self.device)
        T = self.cfg.data.num_steps
        for t in range(0, X.shape[1], T):
            logits, state = model(X[:, t : t + T].long(), state)  # (T, S, V)
            y = Y[:, t : t + T].T.reshape(-1).long()  # (T * S,) time-major as the logits
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y, reduction="sum")
        return total, state

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

    @classmethod
    def describe(cls, cfg) -> str:
        return "a language model"

    @classmethod
    def config_warnings(cls, cfg) -> list[str]:
        if not cfg.model.bidirectional:
            return []
        return [
            "model.bidirectional on a language model: its right-to-left direction sees the "
            "future (the very token it predicts), so its perplexity flatters it and it cannot "
            "generate forward (d2l 9.4.4; configs/bilstm_timemachine.yaml)"
        ]

    @classmethod
    def read_input(cls, cfg, artifacts: Artifacts, given: str) -> list[str]:
        return check_prefix(given, artifacts.vocab, cfg.data.token)

    @classmethod
    def predict(cls, cfg, artifacts: Artifacts, model, tokens, sampling) -> Iterator[str]:
        """The prefix, then `sampling.num_tokens` generated tokens, in pieces as they come."""
        generator = torch.Generator().manual_seed(sampling.seed)
        stop_at = EOS if sampling.stop_at_eos else None
        if stop_at and EOS not in artifacts.vocab.token_to_idx:
            raise RnnlabError(
                "--stop-at-eos: this run has no <eos> token (train on word tokens with "
                "data.eos: true)"
            )
        chunks = generate_chunks(
            model, artifacts.vocab, tokens, sampling.num_tokens, sampling.temperature,
            sampling.top_k, generator, stop_at,
        )  # fmt: skip
        between = join_tokens(["", ""], cfg.data.token)  # "" for characters, " " for words
        yield join_tokens(tokens, cfg.data.token)
        for chunk in chunks:
            yield between + join_tokens(chunk, cfg.data.token)


def last_row(state):
    """The last stream's part of a recurrent state: (L, S, H) -> (L, 1, H), also inside
    the (h, c) pair of an LSTM (or any tuple or list of such tensors)."""
    if isinstance(state, (tuple, list)):
        return type(state)(last_row(part) for part in state)
    return state[:, -1:]


def scale_rows(state, keep: torch.Tensor):
    """state (L, B, ...) (or a tuple or list of such) with stream b multiplied by keep[b]."""
    if isinstance(state, (tuple, list)):
        return type(state)(scale_rows(part, keep) for part in state)
    shape = (1, -1) + (1,) * (state.dim() - 2)  # (1, B, 1, ...)
    return state * keep.view(shape).to(state.dtype)  # (L, B, ...)
