"""Tasks by name, so sweeps can describe them as plain data.

    task = build_task({"name": "mqar", "vocab_size": 64, "num_pairs": 8})

An unknown name, an unknown field or an impossible size raises ValueError naming the field,
before any model is built or trained.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import require
from .arithmetic import ChainedArithmetic
from .charlm import CharLM
from .copy import Copy
from .induction import Induction, MixedInduction
from .mini_lm import MiniLM
from .mix import Mix
from .mqar import MQAR, MixedMQAR
from .selective_copy import SelectiveCopy
from .task import Task

TASKS: dict[str, type] = {
    "mqar": MQAR,
    "mixed_mqar": MixedMQAR,
    "induction": Induction,
    "mixed_induction": MixedInduction,
    "selective_copy": SelectiveCopy,
    "copy": Copy,
    "charlm": CharLM,
    "arithmetic": ChainedArithmetic,
    "mini_lm": MiniLM,
    "mix": Mix,
}


def register_task(name: str, cls: type) -> None:
    """Add a task class (a dataclass following the Task protocol) under `name`."""
    TASKS[name] = cls


def build_task(spec: dict[str, Any]) -> Task:
    spec = dict(spec)
    name = spec.pop("name", None)
    require(name in TASKS, "task", f"unknown task {name!r}; known: {sorted(TASKS)}")
    cls = TASKS[name]
    known = {f.name for f in dataclasses.fields(cls)}
    for key in spec:
        require(key in known, f"task.{key}", f"{name} has no such field; known: {sorted(known)}")
    return cls(**spec)
