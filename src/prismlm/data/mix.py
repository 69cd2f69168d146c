"""A weighted mixture of tasks on one vocabulary: the data mixes of PRISM's training levers.

    mix = build_task({"name": "mix", "tasks": [{"name": "mini_lm"}, {"name": "arithmetic"}],
                      "weights": [0.7, 0.3]})

Component i keeps its own token ids shifted by offset_i = Σ_{j<i} V_j, so the components never
share an id (a model can tell them apart); one extra id, V = Σ_j V_j, pads the shorter rows on the
right to T = max_j T_j, with mask 0 there. Each row's component is drawn i.i.d. from the
normalised weights with the caller's generator (then each component draws its rows in component
order), so a batch is a pure function of (config, generator state) like every task. A weight of 0
drops a component from sampling but keeps its ids, so every phase of a curriculum and every
modular-pretraining kind shares one vocabulary and one model shape.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from ..config import require
from .task import Batch, Task


def normalise_weights(weights: Any, n: int, field: str = "weights") -> tuple[float, ...]:
    """Validate n non-negative weights with a positive sum; return them summing to 1."""
    w = tuple(float(x) for x in weights)
    require(len(w) == n, field, f"needs one weight per task ({n}), got {len(w)}")
    require(all(x >= 0 for x in w), field, f"must be >= 0, got {list(w)}")
    require(sum(w) > 0, field, f"must have a positive sum, got {list(w)}")
    total = sum(w)
    return tuple(x / total for x in w)


@dataclass
class Mix:
    """tasks: build_task specs; weights: one per task (None: uniform), normalised on construction;
    eval_weights: the mix `eval_sample` draws from (None: `weights`)."""

    tasks: tuple[dict, ...] = ({"name": "mini_lm"}, {"name": "arithmetic"})
    weights: tuple[float, ...] | None = None
    eval_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        require(isinstance(self.tasks, list | tuple) and len(self.tasks) >= 1, "tasks",
                "must be a non-empty list of task specs")
        require(all(isinstance(t, dict) and t.get("name") != "mix" for t in self.tasks), "tasks",
                "each entry must be a task spec dict (a mix cannot nest a mix)")
        self.tasks = tuple(dict(t) for t in self.tasks)
        n = len(self.tasks)
        self.weights = normalise_weights(self.weights if self.weights is not None else [1.0] * n, n)
        if self.eval_weights is not None:
            self.eval_weights = normalise_weights(self.eval_weights, n, "eval_weights")
        _ = self.components  # build now, so a bad component spec fails at construction

    @cached_property
    def components(self) -> tuple[Task, ...]:
        from .registry import build_task  # the registry imports this module

        return tuple(build_task(spec) for spec in self.tasks)

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        out, total = [], 0
        for task in self.components:
            out.append(total)
            total += task.vocab_size
        return tuple(out)

    @property
    def pad_id(self) -> int:
        return self.offsets[-1] + self.components[-1].vocab_size

    @property
    def vocab_size(self) -> int:
        return self.pad_id + 1

    @property
    def max_seq_len(self) -> int:
        return max(task.max_seq_len for task in self.components)

    def with_weights(self, weights: Any) -> Mix:
        """The same components (same vocabulary and offsets) under other sampling weights."""
        return dataclasses.replace(self, weights=tuple(weights))

    def _draw(self, batch_size: int, gen: torch.Generator, weights: tuple[float, ...], split: str) -> Batch:
        which = torch.multinomial(torch.tensor(weights), batch_size, replacement=True, generator=gen)
        t_max = self.max_seq_len
        inputs = torch.full((batch_size, t_max), self.pad_id, dtype=torch.long)
        targets = torch.zeros(batch_size, t_max, dtype=torch.long)
        mask = torch.zeros(batch_size, t_max)
        for i, task in enumerate(self.components):
            rows = (which == i).nonzero().squeeze(-1)
            if rows.numel() == 0:
                continue
            sub = task.sample(rows.numel(), gen) if split == "train" else task.eval_sample(rows.numel(), gen)
            t = sub.inputs.shape[1]
            inputs[rows, :t] = sub.inputs + self.offsets[i]
            targets[rows, :t] = torch.where(sub.mask > 0, sub.targets + self.offsets[i], 0)
            mask[rows, :t] = sub.mask
        return Batch(inputs, targets, mask)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self._draw(batch_size, generator, self.weights, "train")

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self._draw(batch_size, generator, self.eval_weights or self.weights, "eval")
