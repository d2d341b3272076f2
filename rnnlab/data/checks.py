"""What a config asks of its dataset, checked before any data is read (NumPy only, no
torch): the dataset is registered, and its own required keys are there. The schema
itself (keys, types, ranges) is checked by `rnnlab.config`; this is the layer above."""

from __future__ import annotations

from rnnlab.config import Config
from rnnlab.errors import RnnlabError

from .base import DATASETS, TextCorpus


def check_config(cfg: Config):
    """`cfg` once its dataset accepts it; RnnlabError naming the key otherwise."""
    DATASETS.get(cfg.data.dataset).check_config(cfg)
    if not issubclass(DATASETS.get(cfg.data.dataset), TextCorpus):  # a classifier
        _check_lm_only(cfg)
    return cfg


# model keys only a language model has: a classifier would ignore them
LM_ONLY = (
    "tie_weights",
    "embed_dropout",
    "output_dropout",
    "locked_dropout",
    "token_dropout",
    "weight_drop",
    "ar",
    "tar",
)


def _check_lm_only(cfg) -> None:
    set_keys = [key for key in LM_ONLY if getattr(cfg.model, key)]
    if cfg.model.softmax != "full":
        set_keys.append("softmax")
    if set_keys:
        raise RnnlabError(
            f"'model.{set_keys[0]}' is for language models; dataset '{cfg.data.dataset}' "
            "trains a classifier"
        )
