"""Training: one loop for every model (`train`), its config, schedule and checkpoints."""

from .activation import checkpoint_blocks, saved_tensor_bytes
from .config import TrainConfig
from .evaluation import evaluate, make_eval_set, masked_cross_entropy
from .flops import flops_per_token
from .schedule import lr_at, warmup_steps
from .trainer import TrainResult, train

__all__ = [
    "TrainConfig",
    "checkpoint_blocks",
    "flops_per_token",
    "saved_tensor_bytes",
    "TrainResult",
    "evaluate",
    "lr_at",
    "make_eval_set",
    "masked_cross_entropy",
    "train",
    "warmup_steps",
]
