"""Curriculum: the mix weights of a `Mix` task as a schedule over training phases, declared as data.

    CurriculumConfig(starts=(0.0, 0.33, 0.66),
                     weights=((0.8, 0.1, 0.1), (0.2, 0.6, 0.2), (0.2, 0.2, 0.6)),
                     smooth_steps=0)

Phase p runs from step ⌈starts[p]·S⌉ (S = TrainConfig.steps) to the next phase's start and draws
rows with weights[p] (normalised). With smooth_steps = m > 0 the first m steps of a phase
interpolate linearly from the previous phase's weights, w(t) = (1 − a) w_{p−1} + a w_p with
a = (t − start_p + 1)/m; with m = 0 the weights jump at the boundary. The reference multiplies the
focus datasets' weights by a constant and never renormalises or smooths, although its docstring
says it does; here both are explicit.

The sampler is rebuilt (`Mix.with_weights`) whenever the weights change, i.e. once per phase
without smoothing. It draws from the trainer's generator, whose state every checkpoint stores, so
a resumed run draws exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import require
from ..data.mix import Mix, normalise_weights
from ..data.task import Batch


@dataclass
class CurriculumConfig:
    """starts: the fraction of training where each phase begins (first 0, increasing, < 1);
    weights: one weight vector per phase over the mix's tasks; smooth_steps: linear ramp length."""

    starts: tuple[float, ...] = (0.0, 1 / 3, 2 / 3)
    weights: tuple[tuple[float, ...], ...] = ((1.0, 0.0), (0.5, 0.5), (0.0, 1.0))
    smooth_steps: int = 0

    def __post_init__(self) -> None:
        self.starts = tuple(float(s) for s in self.starts)
        self.weights = tuple(tuple(float(x) for x in w) for w in self.weights)
        require(len(self.starts) >= 1 and self.starts[0] == 0.0, "starts", "the first phase must start at 0")
        require(all(a < b for a, b in zip(self.starts, self.starts[1:], strict=False)), "starts",
                f"must increase strictly, got {list(self.starts)}")
        require(self.starts[-1] < 1.0, "starts", "every phase must start before the end (< 1)")
        require(len(self.weights) == len(self.starts), "weights",
                f"needs one weight vector per phase ({len(self.starts)}), got {len(self.weights)}")
        require(self.smooth_steps >= 0, "smooth_steps", f"must be >= 0, got {self.smooth_steps}")


class Curriculum:
    """The batch source of a curriculum over `mix` for a run of `total_steps` steps."""

    def __init__(self, config: CurriculumConfig, mix: Mix, total_steps: int) -> None:
        if not isinstance(mix, Mix):
            raise TypeError(f"a curriculum schedules the weights of a 'mix' task, got {type(mix).__name__}")
        self.config, self.mix, self.total_steps = config, mix, total_steps
        n = len(mix.tasks)
        self.phase_weights = [normalise_weights(w, n, "weights") for w in config.weights]
        self.phase_starts = [math.ceil(s * total_steps) for s in config.starts]
        self._sampler: tuple[tuple[float, ...], Mix] | None = None
        self.rebuilds = 0  # how many times the sampler was rebuilt (tests read it)

    def phase_at(self, step: int) -> int:
        """Index of the phase that step `step` (0-based) belongs to."""
        return max(p for p, start in enumerate(self.phase_starts) if start <= step)

    def weights_at(self, step: int) -> tuple[float, ...]:
        p = self.phase_at(step)
        m = self.config.smooth_steps
        into = step - self.phase_starts[p]
        if p == 0 or m == 0 or into >= m:
            return self.phase_weights[p]
        a = (into + 1) / m
        prev, cur = self.phase_weights[p - 1], self.phase_weights[p]
        return tuple((1 - a) * u + a * v for u, v in zip(prev, cur, strict=True))

    def batch(self, step: int, batch_size: int, gen: torch.Generator) -> Batch:
        weights = self.weights_at(step)
        if self._sampler is None or self._sampler[0] != weights:
            self._sampler = (weights, self.mix.with_weights(weights))
            self.rebuilds += 1
        return self._sampler[1].sample(batch_size, gen)
