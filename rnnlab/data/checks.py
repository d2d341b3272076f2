"""What a config asks of its dataset, checked before any data is read (NumPy only, no
torch): the dataset is registered, and its own required keys are there. The schema
itself (keys, types, ranges) is checked by `rnnlab.config`; this is the layer above."""

from __future__ import annotations

from .base import DATASETS


def check_config(cfg):
    """`cfg` once its dataset accepts it; RnnlabError naming the key otherwise."""
    DATASETS.get(cfg.data.dataset).check_config(cfg)
    return cfg
