"""The `fingerprint` callback: every checkpoint carries the exact text (and sha256) of the
run's vocab.json and labels.json as they were when training began, so `train --resume`
and `predict` can tell a folder whose files changed (rnnlab/runs/integrity.py) and
`--resume` can write a deleted vocab.json back."""

from __future__ import annotations

from rnnlab.runs.integrity import read_artifacts, sha256

from .base import CALLBACKS, Callback


class Fingerprint(Callback):
    def __init__(self):
        self.artifacts: dict[str, str] = {}

    def on_train_start(self, s, state) -> None:
        self.artifacts = read_artifacts(s.run)

    def state_dict(self) -> dict:
        shas = {name: sha256(text) for name, text in self.artifacts.items()}
        return {"artifacts": dict(self.artifacts), "sha256": shas}


@CALLBACKS.register("fingerprint")
def fingerprint(session) -> Callback:
    return Fingerprint()
