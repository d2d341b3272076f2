"""The optimizers `optim.name` picks, in one table, and the one place they are built.

Each entry is the torch.optim class and the `optim` keys it takes besides `lr` and
`weight_decay` (AdamW's weight decay is decoupled, Loshchilov and Hutter 2019). A new
optimizer is a row here and its name in `OptimConfig.name` (rnnlab/config/schema.py);
tests/test_config.py checks that the two agree. Learning-rate schedules are callbacks
(`rnnlab/training/callbacks/`), and the optimizer's state travels in checkpoints.

Weights on the CPU or a CUDA GPU are updated by torch's fused kernels (`fused=True`: one
pass over each weight per step). torch's default on the CPU is a loop of small ops per
weight: Adam's step over lstm_shakespeare's 1.2M weights takes 9.8 ms that way and 0.6 ms
fused on the 2-core AVX2 host (a microbenchmark; 4.5 ms of a ~60 ms 32 x 16 step in a
profiled run; docs/performance.md).
"""

from __future__ import annotations

import torch

OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], tuple[str, ...]]] = {
    "sgd": (torch.optim.SGD, ("momentum",)),
    "adam": (torch.optim.Adam, ()),
    "adamw": (torch.optim.AdamW, ()),
}


FUSED_ON = ("cpu", "cuda")  # devices with fused kernels for every optimizer above


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    """The optimizer of the `optim` config section `cfg` over `params`, fused where it can be."""
    params = list(params)
    cls, extra = OPTIMIZERS[cfg.name]
    kwargs = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    kwargs.update({key: getattr(cfg, key) for key in extra})
    if params and all(p.device.type in FUSED_ON and p.is_floating_point() for p in params):
        kwargs["fused"] = True
    return cls(params, **kwargs)
