"""Prizma: backprop-free, task-boundary-free continual learning, with its baselines.

Layers, bottom up: `local_rule` (one expert's local update) -> `routing` (recognition) ->
`learner` (the expert pool, batched over runs); `mlp` -> `baselines`; `streams`, `metrics`,
`protocol` (training loop), `runner` (parallel jobs). The experiments E1-E5 and digits, with
their reference figures and verdicts, are in `prismlm.reproduce.continual`.
"""

from .baselines import EWC, Backprop, MLPConfig, Replay, run_oracle
from .learner import Prizma, PrizmaConfig
from .metrics import (
    average_accuracy,
    backward_transfer,
    forgetting,
    learning_accuracy,
    summarize,
)
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
    "PrizmaConfig", "Replay", "Stream", "StructuredPermutedConfig", "average_accuracy",
    "backward_transfer", "checkerboard", "digits", "forgetting", "learning_accuracy",
    "run_oracle", "run_stream", "structured_permuted", "summarize",
]
