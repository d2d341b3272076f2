"""The cells `model.cell` names, as a registry of specs that needs no torch.

A `CellSpec` says what the rest of rnnlab needs to know about a cell: its gate blocks
(rows of W_ih and W_hh), whether its state has a memory cell c beside h, the torch.nn
layer that holds the same weights (`model.impl: builtin`), the cell-specific model keys
it accepts, and where its scratch equations are (`model.impl: scratch`). The config is
checked against the spec (`check_model`) before torch is imported; the equations module
is imported only when a scratch stack is built.

A cell's equations are one of two kinds (docs/cells.md, "How to add a cell"):

- a `StepCell` (`base.py`): the equations of one step, and nothing else; the stack runs
  the loop and autograd does backpropagation through time. `mgu.py` is one.
- a fused cell (`fused.py`: rnn, gru, lstm): forward and backward loops written out, the
  fast path, checked against torch.nn in tests/test_cells.py.

A sequence layer (`sequence.py`: mingru, minlstm) is linear in its state and trains by a
parallel scan: its spec names the layer class (`layer="mingru:MinGRU"`) instead of gate
blocks, and it is stacked by `models/sequence_stack.py` (docs/frontier.md).

Adding a cell is its equations file and one `CELLS.register(...)` line below.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Optional

from rnnlab.config.variants import Key, check_options
from rnnlab.errors import RnnlabError
from rnnlab.registry import Registry, suggest

if TYPE_CHECKING:
    from .base import Cell

# The cell-specific keys of the model section and the value that means "not used".
OPTIONS = {
    "nonlinearity": "tanh",
    "residual": False,
    "forget_bias": 0.0,
    "scan_chunk": None,  # sequence layers: the scan's chunk length
    "state_size": None,
    "conv_width": None,
    "expand": None,
    "r_min": None,
    "r_max": None,
}

# Keys a sequence layer cannot take whatever its options: key -> why.
NOT_FOR_SEQUENCE = {
    "weight_drop": "DropConnect on W_hh, and a sequence layer has no recurrent matrix",
    "compile": "compiles the scratch cells' time loops; a sequence layer has none",
}


@dataclass(frozen=True)
class CellSpec:
    """What rnnlab needs to know about one cell, without importing torch."""

    gates: int = 0  # gate blocks G: W_ih is (G*H, D), W_hh (G*H, H), in the equations' order
    # the scratch equations: "module:Class" under rnnlab.models.cells, or the class itself
    # (a plug-in's cell); "" for a sequence layer
    equations: str | type = ""
    memory: bool = False  # the state is (h, c): a memory cell beside h (the LSTM)
    torch_layer: str | None = None  # torch.nn layer with the same weights ("GRU"); None: none
    options: tuple[str, ...] = ()  # cell-specific model keys it accepts (keys of OPTIONS)
    forget_gate: int | None = None  # the gate block `model.forget_bias` shifts
    layer: str | None = None  # "module:Class" of a SequenceLayer (no gate blocks); or None
    diagonal: bool = False  # W_hh is a vector u (G*H,): h_{t-1} enters elementwise (IndRNN)
    keys: Mapping[str, Key] = field(default_factory=dict)  # its own keys: model.options
    check: Callable[[Any], None] | None = None  # its own cross-checks of the model section

    def __post_init__(self):
        unknown = set(self.options) - set(OPTIONS)
        if unknown or ("forget_bias" in self.options) != (self.forget_gate is not None):
            raise ValueError(f"bad cell spec options {self.options} / {self.forget_gate}")
        if bool(self.layer) == bool(self.equations) or bool(self.layer) == bool(self.gates):
            raise ValueError(f"a cell spec has gates and equations, or a layer: {self}")

    @property
    def sequence(self) -> bool:
        """A sequence layer (`sequence.py`), stacked by `models/sequence_stack.py`."""
        return self.layer is not None

    def load_equations(self) -> type[Cell]:
        """The class of the scratch equations (imports torch)."""
        if not isinstance(self.equations, str):
            return self.equations
        return _load(self.equations)

    def load_layer(self) -> type:
        """The SequenceLayer class of a sequence layer (imports torch)."""
        return _load(self.layer or "")

    def build(self, model_cfg: Any) -> Cell:
        """The scratch equations for `model_cfg`, its `options` complete with the keys'
        defaults (imports torch)."""
        own = check_options("model.options", f"model.cell: {model_cfg.cell}", self.keys,
                            model_cfg.options)  # fmt: skip
        return self.load_equations()(dataclasses.replace(model_cfg, options=own))


def _load(where: str) -> type:
    module, name = where.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def register(name: str, spec: CellSpec) -> None:
    CELLS.register(name)(spec)


CELLS: Registry[CellSpec] = Registry("model.cell")

# The defaults of the sequence layers' keys where the config leaves them null.
LRU_DEFAULTS = {"r_min": 0.9, "r_max": 0.999, "max_phase": 6.283185307179586}  # 2π
S6_DEFAULTS = {"state_size": 16, "conv_width": 4, "expand": 2, "scan_chunk": 64}


def _check_lru(model: Any) -> None:
    """r_min < r_max once the defaults fill the key left out."""
    r_min = LRU_DEFAULTS["r_min"] if model.r_min is None else model.r_min
    r_max = LRU_DEFAULTS["r_max"] if model.r_max is None else model.r_max
    if r_min >= r_max:
        raise RnnlabError(
            f"'model.r_min' must be < model.r_max (defaults {LRU_DEFAULTS['r_min']} and "
            f"{LRU_DEFAULTS['r_max']}), got {r_min} >= {r_max}"
        )


# IndRNN's own keys (model.options), beside its registration below
INDRNN_KEYS = {
    "activation": Key(Literal["relu", "tanh"], "relu", "h = act(W x + u * h_prev + b)"),
    "recurrent_max": Key(
        Optional[float], 2.0, "|u| <= recurrent_max^(1/T) after each step (null: unbounded)", gt=0
    ),  # fmt: skip
}

# fmt: off
register("rnn", CellSpec(1, "fused:RNN", torch_layer="RNN", options=("nonlinearity", "residual")))
register("gru", CellSpec(3, "fused:GRU", torch_layer="GRU"))
register("lstm", CellSpec(4, "fused:LSTM", memory=True, torch_layer="LSTM",
                          options=("forget_bias",), forget_gate=1))
register("mgu", CellSpec(2, "mgu:MGU"))
register("mingru", CellSpec(layer="mingru:MinGRU", options=("scan_chunk",)))
register("minlstm", CellSpec(layer="minlstm:MinLSTM", options=("scan_chunk",)))
register("lru", CellSpec(layer="lru:LRU", check=_check_lru,
                         options=("scan_chunk", "state_size", "r_min", "r_max")))
register("s6", CellSpec(layer="s6:S6", options=("scan_chunk", "state_size", "conv_width", "expand")))
register("indrnn", CellSpec(1, "indrnn:IndRNN", diagonal=True, keys=INDRNN_KEYS))
# fmt: on


def check_model(model: Any) -> None:
    """The `model` section's cell exists, and it and `model.impl` accept the options set;
    RnnlabError naming the key otherwise. No torch."""
    if model.cell not in CELLS:
        names = CELLS.names()
        raise RnnlabError(
            f"'model.cell' must be one of {' | '.join(names)}, got {model.cell!r}"
            f"{suggest(model.cell, names)}"
        )
    spec = CELLS.get(model.cell)
    if model.residual and ("residual" not in spec.options or model.impl != "scratch"):
        raise RnnlabError(
            "'model.residual: true' is nndl's residual SRN: it needs model.cell: rnn and "
            f"model.impl: scratch, got cell {model.cell} with impl {model.impl}"
        )
    for key, unused in OPTIONS.items():
        if getattr(model, key) != unused and key not in spec.options:
            takers = [n for n in CELLS.names() if key in CELLS.get(n).options]
            shown = f"{key}: {getattr(model, key)}" if key == "nonlinearity" else key
            if not takers:
                raise RnnlabError(f"'model.{key}' is for no registered cell, got {model.cell}")
            raise RnnlabError(
                f"'model.{shown}' is for model.cell: {' or '.join(takers)}, got {model.cell}"
            )
    if model.impl == "builtin" and spec.torch_layer is None:
        raise RnnlabError(
            f"model.cell: {model.cell} has no torch.nn layer: set model.impl: scratch"
        )
    if spec.sequence:
        _check_sequence(model)
    model.options = check_options(
        "model.options", f"model.cell: {model.cell}", spec.keys, model.options
    )
    if spec.check is not None:  # the cell's own cross-checks (lru: r_min < r_max)
        spec.check(model)


def _check_sequence(model: Any) -> None:
    """The keys a sequence layer cannot take (`NOT_FOR_SEQUENCE`, `model.init`)."""
    for key, why in NOT_FOR_SEQUENCE.items():
        if getattr(model, key) is True or getattr(model, key) not in (0.0, "auto", False):
            raise RnnlabError(f"'model.{key}' is not for model.cell: {model.cell}: {why}")
    if model.init != "default":
        raise RnnlabError(
            f"'model.init: {model.init}' draws gate blocks of W_ih and W_hh; model.cell: "
            f"{model.cell} draws its own weights (leave model.init out)"
        )
