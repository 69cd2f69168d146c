"""Prizma: backprop-free, task-boundary-free continual learning, with baselines and E1-E5.

Layers, bottom up: `local_rule` (one expert's local update) -> `routing` (recognition) ->
`learner` (the expert pool, batched over runs); `mlp` -> `baselines`; `streams`, `metrics`,
`protocol` (training loop), `runner` (parallel jobs), `experiments` (E1-E5, digits).
"""

from .baselines import EWC, Backprop, MLPConfig, Replay, run_oracle
from .learner import Prizma, PrizmaConfig
from .metrics import acc, bwt, fgt, la, mean_ci, summarize
from .protocol import run_stream
from .streams import (
    CheckerboardConfig,
    DigitsConfig,
    Stream,
    StructuredPermutedConfig,
    checkerboard,
    digits,
    structured_permuted,
)

__all__ = [
    "EWC", "Backprop", "CheckerboardConfig", "DigitsConfig", "MLPConfig", "Prizma",
    "PrizmaConfig", "Replay", "Stream", "StructuredPermutedConfig", "acc", "bwt", "checkerboard",
    "digits", "fgt", "la", "mean_ci", "run_oracle", "run_stream", "structured_permuted",
    "summarize",
]
