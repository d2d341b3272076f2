"""The optimizers `optim.name` picks, in one table, and the one place they are built.

Each entry is the torch.optim class and the `optim` keys it takes besides `lr` and
`weight_decay` (AdamW's weight decay is decoupled, Loshchilov and Hutter 2019). A new
optimizer is a row here and its name in `OptimConfig.name` (rnnlab/config/schema.py);
tests/test_config.py checks that the two agree. Learning-rate schedules are callbacks
(`rnnlab/training/callbacks/`), and the optimizer's state travels in checkpoints.
"""

from __future__ import annotations

import torch

OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], tuple[str, ...]]] = {
    "sgd": (torch.optim.SGD, ("momentum",)),
    "adam": (torch.optim.Adam, ()),
    "adamw": (torch.optim.AdamW, ()),
}


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    """The optimizer of the `optim` config section `cfg` over `params`."""
    cls, extra = OPTIMIZERS[cfg.name]
    kwargs = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    kwargs.update({key: getattr(cfg, key) for key in extra})
    return cls(params, **kwargs)
