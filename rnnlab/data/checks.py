"""What a config asks of its dataset, checked before any data is read (NumPy only, no
torch): the dataset is registered, and its own required keys are there. The schema
itself (keys, types, ranges) is checked by `rnnlab.config`; this is the layer above."""

from __future__ import annotations

from rnnlab.config import Config, ModelConfig
from rnnlab.errors import RnnlabError

from .base import DATASETS


def check_config(cfg: Config):
    """`cfg` once its dataset accepts it; RnnlabError naming the key otherwise."""
    dataset = DATASETS.get(cfg.data.dataset)
    dataset.check_config(cfg)
    defaults = ModelConfig()
    for key in dataset.unused_model_keys:  # a classifier's: the language model's keys
        if getattr(cfg.model, key) != getattr(defaults, key):
            raise RnnlabError(
                f"'model.{key}' is for language models; dataset '{cfg.data.dataset}' "
                f"{dataset.what_it_trains()}"
            )
    return cfg
