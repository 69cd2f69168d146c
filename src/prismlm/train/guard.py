"""Divergence guard: stop a run whose loss or gradients stop being finite.

Every optimizer step records, on the device, the first step whose loss or global gradient norm
was NaN or ±inf; nothing is copied to the host per step (no extra CUDA sync). The record is read
(`check`) wherever the trainer would publish something: before writing a log or eval record and
before saving a checkpoint, so no non-finite number and no NaN model ever reaches the disk. A
diverged run raises `TrainingDiverged`, leaving the last finite checkpoint as the committed one.
Under torchrun the record is min-reduced over ranks at each check, so every rank stops together.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from .distributed import DistInfo

_NONE = 2**62  # "no bad step yet": larger than any step count


class TrainingDiverged(RuntimeError):
    """The loss, a gradient or a weight became NaN/inf. `step`: the first optimizer step (1-based)
    at which it was seen; `last_checkpoint`: the step of the newest finite checkpoint, or None."""

    def __init__(self, step: int, what: str, last_checkpoint: int | None = None) -> None:
        self.step, self.what, self.last_checkpoint = step, what, last_checkpoint
        kept = (
            f"the last finite checkpoint (step {last_checkpoint}) is kept"
            if last_checkpoint is not None
            else "no checkpoint was written"
        )
        super().__init__(
            f"training diverged at step {step}: {what} became non-finite; {kept} and the "
            "diverged model was not saved (lower lr, enable grad_clip, or lengthen warmup)"
        )


def grad_norm(model: nn.Module, clip: float) -> torch.Tensor:
    """Global L2 norm of the gradients (a 0-dim tensor), clipping them to `clip` when > 0."""
    params = [p for p in model.parameters() if p.grad is not None]
    if not params:
        return torch.zeros(())
    if clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
    else:
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])
    # FSDP2 shards the gradients: the norm comes back as a replicated DTensor
    return norm.full_tensor() if hasattr(norm, "full_tensor") else norm


def weights_finite(model: nn.Module, info: DistInfo | None = None) -> bool:
    """True when every parameter is finite (one host sync). With `info` of a distributed run
    the answer is AND-reduced over ranks, so shards (FSDP2) agree and every rank stops together."""
    flags = [torch.isfinite(p.to_local() if hasattr(p, "to_local") else p).all() for p in model.parameters()]
    ok = torch.stack(flags).all() if flags else torch.ones((), dtype=torch.bool)
    if info is not None and info.enabled:
        ok = ok.to(torch.int32)
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok)


class FiniteGuard:
    """Remembers the first step with a non-finite loss or gradient norm; `check` raises on it."""

    def __init__(self, device: torch.device, info: DistInfo) -> None:
        self.info = info
        self.first_bad = torch.full((), _NONE, dtype=torch.long, device=device)
        self.last_checkpoint: int | None = None

    def observe(self, step: int, loss: torch.Tensor, norm: torch.Tensor) -> None:
        finite = torch.isfinite(loss.detach()) & torch.isfinite(norm.to(loss.device))
        self.first_bad = torch.minimum(self.first_bad, torch.where(finite, _NONE, step))

    def check(self) -> None:
        bad = self.first_bad.clone()
        if self.info.enabled:
            dist.all_reduce(bad, op=dist.ReduceOp.MIN)
        if int(bad) < _NONE:
            raise TrainingDiverged(int(bad), "the loss or gradient norm", self.last_checkpoint)

    def fail(self, step: int, what: str) -> None:
        """Raise for a non-finite value found outside the per-step record (eval loss, weights)."""
        raise TrainingDiverged(step, what, self.last_checkpoint)
