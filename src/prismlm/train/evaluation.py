"""The training objective and the evaluation every run reports.

    loss = Σ_t m_t · CE(logits_t, y_t) / max(Σ_t m_t, 1)       masked_cross_entropy
    evaluate(model, batches) -> {"acc", "loss" (nats per scored token), "bpc" (= loss / ln 2)}

The evaluation batches are frozen: drawn once from a generator seeded with `eval_seed`.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from ..data.task import Batch, Task
from .config import TrainConfig


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, denom: float | None = None
) -> torch.Tensor:
    """sum(CE · mask) / denom, denom = max(sum(mask), 1) unless given. logits [B,T,V]."""
    ce = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")
    total = (ce * mask.flatten()).sum()
    return total / (denom if denom is not None else mask.sum().clamp_min(1.0))


def make_eval_set(task: Task, config: TrainConfig) -> list[Batch]:
    """The frozen evaluation batches: drawn once from a generator seeded with eval_seed."""
    gen = torch.Generator().manual_seed(config.eval_seed)
    return [task.eval_sample(config.eval_bs, gen) for _ in range(config.eval_batches)]


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: list[Batch], device: torch.device | str = "cpu", amp: bool = False
) -> dict[str, float]:
    """Masked accuracy (mean over batches), token-weighted CE loss (nats) and bits per token."""
    was_training = model.training
    model.eval()
    accs, ce_sum, count = [], 0.0, 0.0
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext()
    for batch in batches:
        batch = batch.to(device)
        with ctx:
            logits = model(batch.inputs)
        ce = F.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(), reduction="none").view_as(
            batch.mask
        )
        n = float(batch.mask.sum())
        hit = (logits.argmax(-1) == batch.targets).float()
        accs.append(float((hit * batch.mask).sum()) / max(n, 1.0))
        ce_sum += float((ce * batch.mask).sum())
        count += n
    model.train(was_training)
    loss = ce_sum / max(count, 1.0)
    return {"acc": sum(accs) / len(accs), "loss": loss, "bpc": loss / math.log(2)}
