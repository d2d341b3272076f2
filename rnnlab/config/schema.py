"""The config schema: one dataclass per YAML section, one comment per field.

Ranges live in each field's metadata (`gt`, `ge`, `lt`, `le`) and are checked by
`rnnlab.config.load` together with the types; this module only declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from rnnlab.config.schedules import schedule_names


def bounded(default, **bounds):
    """A field with a default and range bounds: gt, ge, lt, le."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=bounds)
    return field(default=default, metadata=bounds)


@dataclass
class DataConfig:
    dataset: str = (
        "timemachine"  # a registered dataset: timemachine, jaychou, text, ptb, shakespeare,
        # digitsum, imdb, csv, adding, copy, selective_copy, recall, digits, mnist1d
    )
    path: Optional[str] = (
        None  # a local file or folder instead of the download (relative: cwd, then data dir)
    )
    token: Literal["char", "word"] = "char"  # language models: characters or words
    min_freq: int = bounded(0, ge=0)  # rarer tokens map to <unk>
    batch_size: int = bounded(32, gt=0)  # sequences per minibatch
    num_steps: int = bounded(35, gt=0)  # time steps per sequence (truncated BPTT length)
    sampling: Literal["random", "sequential"] = "sequential"  # d2l's two minibatch samplers
    valid_fraction: float = bounded(0.1, gt=0, lt=1)  # held-out share for validation
    max_tokens: Optional[int] = bounded(None, gt=0)  # train on the first N tokens (d2l: 10000)
    # digitsum (>= 3), adding, copy, selective_copy, recall: the sequence length T (a
    # <length>/ folder; docs/memory.md says what T is for each task)
    length: Optional[int] = bounded(None, ge=1)
    max_len: Optional[int] = bounded(None, gt=0)  # classifiers: keep the first N tokens of a text
    text_column: str = "text"  # csv: the column holding the text
    label_column: str = "label"  # csv: the column holding the label
    # language models: newlines as tokens (keep) or as spaces; null: the dataset's own
    # (text, shakespeare, ptb: keep; jaychou: space; timemachine: d2l's, lines joined)
    newlines: Optional[Literal["keep", "space"]] = None
    eos: Optional[bool] = None  # word tokens: <eos> at each line end; null: ptb yes, others no
    eval_batch_size: int = bounded(10, gt=0)  # language models: parallel streams to evaluate
    # sequential sampling: each stream restarts from a zero state every N batches
    # (staggered, from batch N of an epoch on) so the model keeps reading from the zero state
    # that generation starts from (docs/language_models.md, "Generation"); null (the
    # default, d2l's and Zaremba's): only at each epoch's start
    restart_every: Optional[int] = bounded(None, gt=0)
    # the digits' pixel order: the fixed permutation this seed draws; null: row by row
    permute: Optional[int] = bounded(None, ge=0)  # digits: pixels in a seeded fixed order


@dataclass
class ModelConfig:
    cell: str = (
        "gru"  # the cell: rnn, gru, lstm, mgu, indrnn, mingru, minlstm, lru, s6 (models/cells)
    )
    impl: Literal["builtin", "scratch"] = "builtin"  # torch.nn layers or rnnlab's own cells
    hidden_size: int = bounded(256, gt=0)  # units per layer and direction
    num_layers: int = bounded(
        1, gt=0, le=1000
    )  # stacked recurrent layers (building more takes minutes)
    bidirectional: bool = False  # also run right-to-left (sees the future: not for generation)
    dropout: float = bounded(0.0, ge=0, lt=1)  # dropout between stacked layers
    embedding: Union[Literal["one_hot"], int] = "one_hot"  # one-hot inputs or a learned dim
    nonlinearity: Literal["tanh", "relu"] = "tanh"  # rnn cell only: h = tanh(...) or relu(...)
    residual: bool = False  # scratch rnn only: nndl's residual SRN, h_t = h_{t-1} + tanh(...)
    # see models/init.py; uniform: every parameter of the model in +-init_range (Zaremba 2014)
    init: Literal["default", "normal", "xavier", "orthogonal", "uniform"] = "default"
    compile: Union[Literal["auto"], bool] = "auto"  # scratch: torch.compile the time loops
    forget_bias: float = 0.0  # lstm: added to the forget gates' bias at init (1: Jozefowicz 2015)
    init_range: float = bounded(0.1, gt=0)  # model.init: uniform draws in +-init_range
    tie_weights: bool = False  # the output layer shares the embedding matrix (Press & Wolf 2017)
    embed_dropout: float = bounded(0.0, ge=0, lt=1)  # dropout on the embedding output
    output_dropout: float = bounded(0.0, ge=0, lt=1)  # dropout before the output layer
    locked_dropout: bool = False  # embed/output dropout: one mask per sequence (Gal 2016)
    token_dropout: float = bounded(0.0, ge=0, lt=1)  # blank out input tokens (Xie 2017)
    weight_drop: float = bounded(0.0, ge=0, lt=1)  # DropConnect on hidden-to-hidden (AWD-LSTM)
    ar: float = bounded(0.0, ge=0)  # activation regularisation: ar * mean(output layer input^2)
    tar: float = bounded(0.0, ge=0)  # temporal AR: tar * mean((h_t - h_{t-1})^2) (AWD-LSTM)
    softmax: Literal["full", "adaptive"] = "full"  # adaptive: nn.AdaptiveLogSoftmaxWithLoss
    adaptive_cutoffs: list[int] = bounded([])  # softmax: adaptive: increasing, < vocabulary
    # sequence layers (docs/frontier.md); null: the layer's own default
    scan_chunk: Optional[int] = bounded(None, gt=0)  # mingru, minlstm, lru, s6: scan chunk length
    state_size: Optional[int] = bounded(None, ge=1)  # lru, s6: state size N per channel
    conv_width: Optional[int] = bounded(None, ge=1)  # s6: causal convolution width
    expand: Optional[int] = bounded(None, ge=1)  # s6: inner width = expand * hidden_size
    r_min: Optional[float] = bounded(None, ge=0, lt=1)  # lru: min eigenvalue modulus at init
    r_max: Optional[float] = bounded(None, gt=0, lt=1)  # lru: max eigenvalue modulus at init
    options: dict[str, Any] = bounded({})  # the keys a plug-in's cell declares (its spec's keys)


@dataclass
class OptimConfig:
    name: Literal["sgd", "adam", "adamw"] = "sgd"  # the optimizer
    lr: float = bounded(
        1.0, gt=0, le=1e30
    )  # learning rate (float32 arithmetic overflows near 1e38)
    momentum: float = bounded(0.0, ge=0, lt=1)  # SGD momentum
    weight_decay: float = bounded(0.0, ge=0)  # L2 penalty (decoupled for adamw)
    clip: Optional[float] = bounded(1.0, gt=0)  # max global gradient norm; null = no clipping
    # the learning-rate schedule (training/callbacks/schedule.py); its keys follow, each
    # belongs to the schedules named in its comment and is an error with any other one
    schedule: str = field(default="none", metadata={"names": schedule_names})
    gamma: Optional[float] = bounded(None, gt=0)  # step: multiply by gamma (default 0.1)
    step_size: Optional[int] = bounded(None, gt=0)  # step: every N epochs (default 1)
    start: Optional[int] = bounded(None, gt=0)  # step: first multiply after epoch N (step_size)
    factor: Optional[float] = bounded(None, gt=1)  # plateau: divide by factor (default 10)
    patience: Optional[int] = bounded(None, ge=0)  # plateau: evaluations to wait (default 0)
    warmup_steps: Optional[int] = bounded(None, ge=0)  # cosine, inverse_sqrt: warm-up steps (0)
    # cosine: steps to min_lr (default: the whole run); budget: where train.time_limit ends it
    decay_steps: Union[int, Literal["budget"], None] = bounded(None, gt=0)
    min_lr: Optional[float] = bounded(None, ge=0)  # cosine, plateau: the floor (default 0)
    # evaluate, keep and test an average of the weights (training/callbacks/average.py):
    # uniform (Polyak, AWD-LSTM's ASGD) or ema, over the steps from average_start on
    average: Literal["none", "uniform", "ema"] = "none"
    average_start: Optional[int] = bounded(None, ge=0)  # uniform, ema: first step (default 0)
    average_decay: Optional[float] = bounded(None, gt=0, lt=1)  # ema: the decay (0.999)
    options: dict[str, Any] = bounded({})  # the keys a plug-in's schedule declares


@dataclass
class TrainConfig:
    epochs: int = bounded(500, gt=0)  # passes over the training data
    eval_every: int = bounded(10, gt=0)  # validate (and keep the best checkpoint) every N epochs
    # validate every N optimizer steps instead (and after the last step); replaces eval_every.
    # metrics.csv then has a row per evaluation rather than per epoch (nndl: every 100 steps)
    eval_every_steps: Optional[int] = bounded(None, gt=0)
    loss_reduction: Literal["mean", "sum"] = "mean"  # the batch loss: mean or sum over examples
    log_grad_norms: bool = False  # every parameter's gradient L2 norm per step -> grad_norms.csv
    # a nan or inf loss: stop (exit 2 naming the epoch and step; best.pt is kept) or skip
    # (leave out the update of any step whose loss or gradient norm is not finite; costs a
    # host sync per step; summary.json counts them)
    on_nan: Literal["stop", "skip"] = "stop"
    sample_every: int = bounded(50, gt=0)  # print greedy text every N epochs
    prefixes: list[str] = bounded(["time traveller", "traveller"])  # prompts for samples
    sample_len: int = bounded(50, ge=0)  # tokens generated per sample
    # autocast the forward pass and loss: 32 (off) | bf16 | 16-mixed (float16 + loss scaler)
    # | auto (bf16 where the device has it natively, else 32)
    precision: Literal[32, "bf16", "16-mixed", "auto"] = 32
    deterministic: bool = False  # CUDA: deterministic kernels only (CPU runs are already)
    # seconds between last.pt saves at epoch ends (0: every epoch); also after the first
    # epoch, at the end and on a signal
    checkpoint_every: float = bounded(30.0, ge=0)
    early_stop: Optional[int] = bounded(None, gt=0)  # stop after N evaluations not improving
    time_limit: Union[str, float, None] = None  # wall-clock budget "90s", "10m", "2h", "1h30m"
    log_grad_flow: bool = False  # ||dL/dh_t|| by distance at each evaluation -> grad_flow.csv
    tensorboard: bool = False  # also write TensorBoard event files to RUN/tensorboard/ (extra)
    # a progress line (train figures so far, no evaluation) every N steps; auto: about every
    # 30 s when an epoch is over 1,000 batches (PTB, Shakespeare), else none; null: none
    log_every_steps: Union[Literal["auto"], int, None] = bounded("auto", gt=0)


@dataclass
class SweepConfig:
    grid: dict[str, list[Any]] = bounded({})  # KEY: [values], swept as a cartesian product
    seeds: list[int] = bounded([])  # each grid point once per seed; empty = the config's seed
    metric: Optional[str] = None  # results column to plot; null = test_acc, else best_val_ppl
    workers: int = bounded(1, gt=0)  # runs at once, torch threads divided between them
    # KEY: {log_uniform|uniform: [low, high]} | {int: [low, high]} | {choice: [values]}
    space: dict[str, dict[str, Any]] = bounded({})
    search: Literal["grid", "random", "optuna"] = "grid"  # grid: sweep.grid; else sample space
    trials: int = bounded(20, gt=0)  # runs a random or optuna search samples
    pruner: Literal["median", "hyperband", "asha", "none"] = "median"  # optuna: stops poor runs


@dataclass
class Config:
    name: str = "run"  # run folder prefix: runs/<name>-<timestamp>/
    seed: int = bounded(0, ge=0, lt=2**63)  # seeds torch and the samplers
    device: str = "auto"  # auto (CUDA, then MPS, then CPU) | cpu | cuda | cuda:N | mps
    # CPU threads (torch intra-op): auto = the usable cores less what other work keeps busy
    # at start (rnnlab/cpus.py; an explicit OMP_NUM_THREADS wins), or a number
    threads: Union[Literal["auto"], int] = bounded("auto", gt=0)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)  # used by `rnnlab sweep` only
    # Python modules imported before the config is checked, to register cells, datasets or
    # schedules of your own (docs/plugins.md); `--plugin MODULE` adds one
    plugins: list[str] = bounded([])
