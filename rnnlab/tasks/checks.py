"""A config's checks before any data is read or torch is imported: the dataset's own keys
(`rnnlab.data.check_config`) and the cell's options (`rnnlab.models.check_model`). The
one entry point of `train`, `config show`, `--resume` and the sweeps."""

from __future__ import annotations

from rnnlab.config import Config
from rnnlab.data import DATASETS, TextCorpus
from rnnlab.data import check_config as check_dataset_keys
from rnnlab.errors import RnnlabError
from rnnlab.models import CELLS, check_model


def check_config(cfg: Config) -> Config:
    """`cfg` once its dataset and its cell accept it; RnnlabError naming the key otherwise."""
    check_model(check_dataset_keys(cfg).model)
    lm = issubclass(DATASETS.get(cfg.data.dataset), TextCorpus)
    if cfg.train.log_grad_flow and CELLS.get(cfg.model.cell).sequence and not lm:
        raise RnnlabError(
            f"'train.log_grad_flow' with model.cell {cfg.model.cell} is measured for "
            "language models only"
        )
    return cfg
