"""Progressive Capacity Stacking through the one trainer: train, grow, continue.

    stages = [Stage(small_cfg, 300), Stage(mid_cfg, 300), Stage(big_cfg, 400)]
    result = run_progressive(stages, task, TrainConfig(...), run_dir)

A schedule is data: one `Stage(model config, steps)` per stage (`split_steps` turns token
fractions into step counts: int(total · f) each, the remainder to the last stage). Stage 0
builds its model under `seed`; stage i > 0 is `grow(model of stage i − 1, stage.config)`, which
computes the same function (models/grow.py), then trains on. Each stage is one `train()` call
with its own step budget, a fresh AdamW and its own warmup (optimizer state is not carried; see
models/grow.py), and its own run folder `<run_dir>/stage<i>-<key>`. The key fingerprints the
resolved configs of that stage *and of every stage before it* (the weights it starts from), so a
folder is only ever resumed by the same lineage, and the trainer's own check refuses a folder
made with other configs. Resume after a kill is therefore the trainer's: finished stages load
their final checkpoint and train nothing, the killed stage restarts from its last checkpoint,
and the run ends where an uninterrupted one does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import config_to_dict, fingerprint, require, to_jsonable
from ..models import build_model
from ..models.grow import grow
from ..train import TrainConfig, TrainResult, train

__all__ = ["ProgressiveResult", "Stage", "run_progressive", "split_steps", "stage_keys"]


@dataclass(frozen=True)
class Stage:
    """One stage: the model config trained in it and its optimizer steps."""

    config: Any
    steps: int

    def __post_init__(self) -> None:
        require(isinstance(self.steps, int) and self.steps >= 1, "steps", f"must be an int >= 1, got {self.steps!r}")


def split_steps(total: int, fractions: list[float]) -> list[int]:
    """Token fractions -> steps: int(total · f) per stage, the last stage gets the remainder."""
    require(len(fractions) >= 1, "fractions", "need at least one stage")
    require(all(f > 0 for f in fractions), "fractions", f"must be > 0, got {fractions}")
    require(abs(sum(fractions) - 1.0) < 1e-6, "fractions", f"must sum to 1, got {sum(fractions)}")
    steps = [int(total * f) for f in fractions[:-1]]
    steps.append(total - sum(steps))
    require(all(s >= 1 for s in steps), "fractions", f"{total} steps leave an empty stage: {steps}")
    return steps


@dataclass
class ProgressiveResult:
    """Per-stage results plus one eval curve over the whole run.

    curve: one dict per eval, with the stage, the global step, tokens seen (batch · seq_len ·
    steps) and wall-clock summed over the stages so far, and the eval metrics.
    """

    stages: list[TrainResult] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)
    model: Any = None

    @property
    def final(self) -> dict[str, Any]:
        return self.curve[-1] if self.curve else {}


def _train_config(base: TrainConfig, stage: Stage) -> TrainConfig:
    return dataclasses.replace(base, steps=stage.steps)


def stage_keys(stages: list[Stage], task: Any, base: TrainConfig, seed: int) -> list[str]:
    """Fingerprint of each stage's lineage: its resolved configs and those of all stages before."""
    keys, lineage = [], []
    task_cfg = {"task_class": type(task).__name__, "vocab_size": task.vocab_size,
                "max_seq_len": task.max_seq_len}
    if dataclasses.is_dataclass(task):
        task_cfg["fields"] = to_jsonable(task)
    for stage in stages:
        lineage.append({"model": config_to_dict(stage.config), "train": dataclasses.asdict(_train_config(base, stage))})
        keys.append(fingerprint(to_jsonable({"lineage": lineage, "task": task_cfg, "seed": seed}))[:12])
    return keys


def run_progressive(
    stages: list[Stage],
    task: Any,
    base: TrainConfig,
    run_dir: Path | None = None,
    seed: int = 0,
    restart: bool = False,
) -> ProgressiveResult:
    """Train stage by stage, growing between stages (module docstring). `base` gives every
    TrainConfig field but `steps`; a one-stage schedule is ordinary from-scratch training."""
    require(len(stages) >= 1, "stages", "need at least one stage")
    keys = stage_keys(stages, task, base, seed)
    out = ProgressiveResult(keys=keys)
    tokens_per_step = base.batch_size * task.max_seq_len
    step0, wall0 = 0, 0.0
    model = None
    for i, stage in enumerate(stages):
        if model is None:
            torch.manual_seed(seed)
            model = build_model(stage.config)
        else:
            model = grow(model, stage.config, seed=seed + i)
        stage_dir = None if run_dir is None else Path(run_dir) / f"stage{i}-{keys[i]}"
        res = train(model, task, _train_config(base, stage), stage_dir, restart=restart)
        out.stages.append(res)
        for rec in res.history:
            step = step0 + rec["step"]
            out.curve.append({
                **rec, "stage": i, "global_step": step, "tokens": step * tokens_per_step,
                "wall": wall0 + rec.get("time", 0.0), "params": model.num_parameters(),
            })
        step0, wall0 = step0 + res.steps, wall0 + res.wall_time
    out.model = model
    return out
