"""rnnlab: a command-line lab for recurrent neural networks."""

__version__ = "0.1.0"
