"""The learning-rate schedules `optim.schedule` names, as a registry of specs that needs
no torch: what each reads of the optim section, the keys it declares, its cross-check,
and where its callback class is (imported only when training starts).

A schedule is one module in `rnnlab/training/callbacks/` (its class) and one
`register(...)` line below; a plug-in registers its own the same way, with its class
itself as `impl` (docs/techniques.md, "Adding a schedule").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rnnlab.config.variants import Key, check_options
from rnnlab.errors import RnnlabError
from rnnlab.registry import Registry, suggest


@dataclass(frozen=True)
class ScheduleSpec:
    """What the config checks and the training loop need to know about one schedule."""

    impl: str | type | None  # "module:Class" (the callback) or the class itself; None: none
    uses: tuple[str, ...] = ()  # keys of the optim section it reads (schema.OptimConfig)
    keys: Mapping[str, Key] = field(default_factory=dict)  # its own keys: optim.options
    check: Callable[[Any], None] | None = None  # a cross-check of the optim section

    def load(self) -> type:
        """The callback class (imports torch for the built-ins)."""
        if self.impl is None or not isinstance(self.impl, str):
            assert self.impl is not None, "the schedule 'none' has no callback"
            return self.impl
        module, name = self.impl.split(":")
        return getattr(importlib.import_module(module), name)


SCHEDULES: Registry[ScheduleSpec] = Registry("optim.schedule")


def register(name: str, spec: ScheduleSpec) -> None:
    SCHEDULES.register(name)(spec)


def schedule_names() -> list[str]:
    """'none' first, then every registered schedule (the README's key table shows these)."""
    return ["none", *(n for n in SCHEDULES.names() if n != "none")]


def schedule_keys() -> dict[str, tuple[str, ...]]:
    """optim keys that belong to a learning-rate schedule, by schedule."""
    return {name: SCHEDULES.get(name).uses for name in schedule_names()}


def check_schedule(optim) -> None:
    """`optim.schedule` is registered; every schedule key set belongs to it; its own keys
    (`optim.options`) are declared by it and well typed; its cross-check passes."""
    if optim.schedule not in SCHEDULES:
        names = schedule_names()
        raise RnnlabError(
            f"'optim.schedule' must be one of {' | '.join(names)}, got {optim.schedule!r}"
            f"{suggest(optim.schedule, names)}"
        )
    spec, every = SCHEDULES.get(optim.schedule), schedule_keys()
    for key in dict.fromkeys(k for keys in every.values() for k in keys):
        if key not in spec.uses and getattr(optim, key) is not None:
            users = [name for name, keys in every.items() if key in keys]
            raise RnnlabError(
                f"'optim.{key}' belongs to optim.schedule: {' or '.join(users)}, "
                f"not to optim.schedule: {optim.schedule}"
            )
    owner = f"optim.schedule: {optim.schedule}"
    optim.options = check_options("optim.options", owner, spec.keys, optim.options)
    if spec.check is not None:
        spec.check(optim)


CALLBACKS = "rnnlab.training.callbacks"
# fmt: off
register("none", ScheduleSpec(None))
register("step", ScheduleSpec(f"{CALLBACKS}.schedule:StepSchedule",
                              uses=("gamma", "step_size", "start")))
register("plateau", ScheduleSpec(f"{CALLBACKS}.schedule:PlateauSchedule",
                                 uses=("factor", "patience", "min_lr")))
register("cosine", ScheduleSpec(f"{CALLBACKS}.schedule:CosineSchedule",
                                uses=("warmup_steps", "decay_steps", "min_lr")))
register("inverse_sqrt", ScheduleSpec(f"{CALLBACKS}.inverse_sqrt:InverseSqrt",
                                      uses=("warmup_steps",)))
# fmt: on
