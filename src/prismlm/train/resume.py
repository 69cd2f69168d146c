"""Which run a run folder holds: the fingerprint of its resolved configs, checked on resume.

A checkpoint stores `configs` = {"model", "task", "train"} (every default filled in) and their
`prismlm.config.fingerprint`. A run folder is resumed only when the fingerprint of the new call
matches; otherwise the trainer refuses with a ValueError that names each changed field, so a
changed lr, step count, seed, task or architecture never continues (or re-reports) an old run.

Fields that cannot change the trained weights or the reported metrics are left out of the
fingerprint, so they may change between a run and its resume: progress, tensorboard, wandb,
checkpoint_every, keep_checkpoints, activation_checkpointing (the recomputation is exact) and
peak_flops (only the reported MFU). `device` enters as the resolved device type ("auto" on a CPU
box equals "cpu") and `amp` as whether bf16 autocast is really used.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import fingerprint, to_jsonable
from .checkpoint import CheckpointError
from .config import TrainConfig

UNFINGERPRINTED = (
    "progress", "tensorboard", "wandb", "wandb_project", "checkpoint_every", "keep_checkpoints",
    "activation_checkpointing", "peak_flops",
)
STATE_KEYS = (
    "step", "elapsed", "done", "stop_reason", "optimizer", "generator", "torch_rng",
    "history", "train_log", "early_stop", "configs", "fingerprint",
)


def _model_config(model: nn.Module) -> dict[str, Any]:
    cfg = getattr(model, "config", None)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {"model_class": type(model).__qualname__, "config": to_jsonable(cfg)}
    # no config dataclass: the architecture is known only through its parameter shapes
    shapes = {name: list(p.shape) for name, p in model.named_parameters()}
    return {"model_class": type(model).__qualname__, "parameters": shapes}


def _task_config(task: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(task) and not isinstance(task, type):
        return to_jsonable(task)
    return {"task_class": type(task).__qualname__, "vocab_size": task.vocab_size,
            "max_seq_len": task.max_seq_len}


def run_configs(model: nn.Module, task: Any, config: TrainConfig, device: torch.device, amp: bool) -> dict:
    """The resolved configs that identify a run, as plain JSON data (tuples become lists)."""
    train = {k: v for k, v in dataclasses.asdict(config).items() if k not in UNFINGERPRINTED}
    train.update(device=device.type, amp=amp)
    configs = {"model": _model_config(model), "task": _task_config(task), "train": train}
    return json.loads(json.dumps(to_jsonable(configs), default=str))


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: tree}


def changed_fields(old: dict, new: dict) -> list[str]:
    """'train.lr: 0.003 -> 0.1' for every dotted field that differs ('(absent)' when missing)."""
    a, b = _flatten(old), _flatten(new)
    missing = "(absent)"
    return [
        f"{k}: {a.get(k, missing)!r} -> {b.get(k, missing)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k, missing) != b.get(k, missing)
    ]


def check_same_run(state: dict[str, Any], state_path: Path, configs: dict) -> None:
    """Refuse a checkpoint of another run (ValueError naming the changed fields); a state
    missing its bookkeeping is damage (CheckpointError, so an older checkpoint is tried)."""
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{state_path}: trainer state lacks {missing}")
    kinds = {"step": int, "elapsed": (int, float), "done": bool, "history": list, "train_log": list,
             "early_stop": dict, "configs": dict}
    wrong = [k for k, kind in kinds.items() if not isinstance(state[k], kind)]
    if wrong:
        raise CheckpointError(f"{state_path}: trainer state has malformed {wrong}")
    if state["fingerprint"] == fingerprint(configs):
        return
    changes = changed_fields(state["configs"], configs) or ["(fingerprint differs)"]
    raise ValueError(
        f"run folder {state_path.parent.parent} holds another run; changed: {'; '.join(changes)}. "
        "Use another run_dir, or start afresh with restart=True (prismlm train --restart)"
    )
