"""Learning-rate schedule: linear warmup, then cosine decay to a floor.

    W      = max(warmup, floor(warmup_frac * steps))
    lr(s)  = lr * (s + 1) / W                                         for s < W
    lr(s)  = min_lr + (lr - min_lr) * (1 + cos(pi * (s - W) / (steps - W))) / 2   otherwise
    min_lr = min_lr_frac * lr

s counts optimizer steps from 0; the floor is approached at the last step (s = steps - 1) and
never crossed.
"""

from __future__ import annotations

import math


def warmup_steps(steps: int, warmup: int, warmup_frac: float) -> int:
    """The warmup length W actually used (at least 1 so step 0 has a finite rate)."""
    return max(1, warmup, int(math.floor(warmup_frac * steps)))


def lr_at(step: int, *, lr: float, steps: int, warmup: int, warmup_frac: float, min_lr_frac: float) -> float:
    """Learning rate for optimizer step `step` (0-based) of a `steps`-long run."""
    w = warmup_steps(steps, warmup, warmup_frac)
    if step < w:
        return lr * (step + 1) / w
    min_lr = min_lr_frac * lr
    span = max(1, steps - w)
    progress = min(1.0, (step - w) / span)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
