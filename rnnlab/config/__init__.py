"""Typed YAML configs: the schema (`schema.py`) and its loader (`load.py`)."""

from rnnlab.config.load import config_from_dict, config_to_dict, dump_config, load_config
from rnnlab.config.schema import (
    Config,
    DataConfig,
    ModelConfig,
    OptimConfig,
    SweepConfig,
    TrainConfig,
)

__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "SweepConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "dump_config",
    "load_config",
]
