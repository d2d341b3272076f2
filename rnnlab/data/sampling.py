"""d2l's two minibatch samplers for language models (section 8.3), vectorised.

Each epoch's batches are cut from the corpus with one gather: no Python loop over tokens.
`X` and `Y` are `(num_batches, batch_size, num_steps)`; `Y` is `X` shifted by one token.
All randomness comes from the sampler's own `torch.Generator`, so its state can be saved
in a checkpoint and a resumed run draws the same batches.
"""

from __future__ import annotations

import torch

from rnnlab.errors import RnnlabError


class Sampler:
    def __init__(self, corpus: torch.Tensor, batch_size: int, num_steps: int, seed: int):
        need = (batch_size + 1) * num_steps + 1
        if len(corpus) < need:
            raise RnnlabError(
                f"the training text has {len(corpus)} tokens, fewer than one batch needs "
                f"((batch_size + 1) * num_steps + 1 = {need}): lower data.batch_size or "
                f"data.num_steps, or use more text"
            )
        self.corpus = corpus  # (N,) token ids, on the training device
        self.batch_size, self.num_steps = batch_size, num_steps
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _randint(self, high: int) -> int:
        """A uniform integer in [0, high)."""
        return int(torch.randint(high, (1,), generator=self.generator))


class RandomSampler(Sampler):
    """Subsequences at shuffled positions; neighbouring batches do not continue each other,
    so the state is reset for each batch."""

    continues_state = False

    def epoch(self) -> tuple[torch.Tensor, torch.Tensor]:
        T, B = self.num_steps, self.batch_size
        offset = self._randint(T)  # d2l: random.randint(0, num_steps - 1)
        num_subseqs = (len(self.corpus) - offset - 1) // T
        starts = offset + T * torch.randperm(num_subseqs, generator=self.generator)
        num_batches = num_subseqs // B
        starts = starts[: num_batches * B].to(self.corpus.device)  # (num_batches * B,)
        windows = self.corpus.unfold(0, T + 1, 1)  # (N - T, T + 1), a view: no copy
        picked = windows[starts].view(num_batches, B, T + 1)  # in the corpus's small type
        return picked[..., :T], picked[..., 1:]  # (num_batches, B, T) each


class SequentialSampler(Sampler):
    """B parallel streams through the text; batch i+1 continues batch i row by row, so the
    state carries over (detached) from one batch to the next."""

    continues_state = True

    def epoch(self) -> tuple[torch.Tensor, torch.Tensor]:
        T, B = self.num_steps, self.batch_size
        offset = self._randint(T + 1)  # d2l: random.randint(0, num_steps)
        num_tokens = (len(self.corpus) - offset - 1) // B * B
        xs = self.corpus[offset : offset + num_tokens].view(B, -1)  # (B, L)
        ys = self.corpus[offset + 1 : offset + 1 + num_tokens].view(B, -1)
        num_batches = xs.shape[1] // T
        cut = num_batches * T

        def batches(s: torch.Tensor) -> torch.Tensor:  # (B, L) -> (num_batches, B, T)
            return s[:, :cut].view(B, num_batches, T).transpose(0, 1)

        return batches(xs), batches(ys)


def make_sampler(kind: str, corpus: torch.Tensor, batch_size: int, num_steps: int, seed: int):
    cls = {"random": RandomSampler, "sequential": SequentialSampler}[kind]
    return cls(corpus, batch_size, num_steps, seed)
