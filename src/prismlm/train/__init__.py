"""Training: one loop for every model (`train`), its config, schedule and checkpoints."""

from .config import TrainConfig
from .schedule import lr_at, warmup_steps
from .trainer import TrainResult, evaluate, make_eval_set, masked_cross_entropy, train

__all__ = [
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "lr_at",
    "make_eval_set",
    "masked_cross_entropy",
    "train",
    "warmup_steps",
]
