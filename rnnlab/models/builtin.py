"""`model.impl: builtin`: torch.nn.RNN / GRU / LSTM (cuDNN on CUDA, oneDNN for LSTM on CPU)."""

from __future__ import annotations

from torch import nn

from rnnlab.config.schema import ModelConfig

from .init import init_recurrent
from .recurrent import RECURRENT, Recurrent

LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@RECURRENT.register("builtin")
class Builtin(Recurrent):
    def __init__(self, model_cfg: ModelConfig, input_size: int):
        super().__init__(model_cfg, input_size)
        extra = {"nonlinearity": model_cfg.nonlinearity} if model_cfg.cell == "rnn" else {}
        self.layer = LAYERS[model_cfg.cell](
            input_size,
            model_cfg.hidden_size,
            num_layers=model_cfg.num_layers,
            dropout=model_cfg.dropout if model_cfg.num_layers > 1 else 0.0,
            bidirectional=model_cfg.bidirectional,
            **extra,
        )
        if model_cfg.init != "default":  # torch.nn has drawn its default already
            init_recurrent(self.layer, model_cfg.init, model_cfg.hidden_size)

    def forward(self, inputs, state=None):
        return self.layer(inputs, state)  # (T, B, H * directions), state
