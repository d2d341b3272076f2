"""What a config asks of its dataset, checked before any data is read (NumPy only, no
torch): the dataset is registered, and its own required keys are there. The schema
itself (keys, types, ranges) is checked by `rnnlab.config`; this is the layer above."""

from __future__ import annotations

from rnnlab.config import Config

from .base import DATASETS


def check_config(cfg: Config):
    """`cfg` once its dataset accepts it; RnnlabError naming the key otherwise."""
    DATASETS.get(cfg.data.dataset).check_config(cfg)
    return cfg


def config_warnings(cfg: Config) -> list[str]:
    """Configs that train but deserve a word: one line each, shown on stderr by `train`."""
    warnings = []
    if cfg.model.bidirectional and DATASETS.get(cfg.data.dataset).task == "lm":
        warnings.append(
            "model.bidirectional on a language model: its right-to-left direction sees the "
            "future (the very token it predicts), so its perplexity flatters it and it cannot "
            "generate forward (d2l 9.4.4; configs/bilstm_timemachine.yaml)"
        )
    return warnings
