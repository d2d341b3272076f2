"""`model.impl: builtin`: the torch.nn layer of the cell's spec (`CellSpec.torch_layer`:
torch.nn.RNN / GRU / LSTM; cuDNN on CUDA, oneDNN for LSTM on CPU)."""

from __future__ import annotations

from torch import nn

from rnnlab.errors import RnnlabError

from .init import init_recurrent
from .recurrent import RECURRENT, Recurrent


@RECURRENT.register("builtin")
class Builtin(Recurrent):
    def __init__(self, model_cfg, input_size: int):
        super().__init__(model_cfg, input_size)
        if self.spec.torch_layer is None:
            raise RnnlabError(
                f"model.cell: {model_cfg.cell} has no torch.nn layer: set model.impl: scratch"
            )
        extra = (
            {"nonlinearity": model_cfg.nonlinearity} if "nonlinearity" in self.spec.options else {}
        )
        self.layer = getattr(nn, self.spec.torch_layer)(
            input_size,
            model_cfg.hidden_size,
            num_layers=model_cfg.num_layers,
            dropout=model_cfg.dropout if model_cfg.num_layers > 1 else 0.0,
            bidirectional=model_cfg.bidirectional,
            **extra,
        )
        if model_cfg.init != "default":  # torch.nn has drawn its default already
            init_recurrent(self.layer, model_cfg.init, model_cfg.hidden_size, model_cfg.init_range)

    def forward(self, inputs, state=None):
        return self.layer(inputs, state)  # (T, B, H * directions), state
