"""The training levers the one trainer accepts: curriculum, loss-bucket re-weighting, replay.

    train(model, mix, TrainConfig(...), levers=Levers(LeverConfig(reweight=ReweightConfig())))

The trainer asks `Levers` for each step's batch (`batch`) and for the effective loss mask of that
batch given its logits (`loss_mask`); the loss stays Σ CE·mask' / Σ mask, so with no lever on it
is the plain masked mean.

* **Loss-bucket re-weighting** (the reference's "token recycling", named for what it does: it
  re-weights the loss, it re-uses no data). Per step, with ℓ the per-token CE of scored tokens:
  an EMA of max ℓ sets the scale M, ℓ/M is cut into `num_buckets` equal buckets, an EMA histogram
  h of bucket frequencies is kept, and a token in bucket b gets w = (1 − s) + s·ŵ_b with
  ŵ_b ∝ 1/h_b normalised so that the scored tokens of the batch average ŵ = 1 (the reference
  normalises over buckets, which changes the loss scale with the histogram's shape). Tokens with
  mask 0 get weight 0 because of the mask, not because their loss happens to be 0 (the
  reference's test). s = 0 is the plain loss.
* **High-loss replay** (re-use of seen tokens, which the seed's name promises): a buffer of at
  most `capacity` training rows, ranked by their mean CE when last seen. Each step the
  `fraction`·B highest-loss rows of the buffer replace the last rows of the fresh batch (equal
  tokens per step); after the forward pass every row of the batch enters the buffer with its new
  loss and the lowest-loss rows fall out.

Both are stateful; `state_dict` / `load_state_dict` go into the trainer's checkpoints, so a
resumed run continues exactly. Under DDP each rank would keep its own histogram and buffer, so
the trainer refuses them there (the curriculum is stateless and runs anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..config import require, to_jsonable
from ..data.task import Batch, Task
from .curriculum import Curriculum, CurriculumConfig


@dataclass
class ReweightConfig:
    num_buckets: int = 16
    ema_decay: float = 0.99
    strength: float = 1.0

    def __post_init__(self) -> None:
        require(self.num_buckets >= 1, "num_buckets", f"must be >= 1, got {self.num_buckets}")
        require(0 <= self.ema_decay < 1, "ema_decay", f"must be in [0, 1), got {self.ema_decay}")
        require(0 <= self.strength <= 1, "strength", f"must be in [0, 1], got {self.strength}")


@dataclass
class ReplayConfig:
    capacity: int = 256
    fraction: float = 0.25

    def __post_init__(self) -> None:
        require(self.capacity >= 1, "capacity", f"must be >= 1, got {self.capacity}")
        require(0 < self.fraction < 1, "fraction", f"must be in (0, 1), got {self.fraction}")


@dataclass
class LeverConfig:
    """Which levers are on (None: off). Part of the run's fingerprint."""

    curriculum: CurriculumConfig | None = None
    reweight: ReweightConfig | None = None
    replay: ReplayConfig | None = None


class LossBucketReweighting:
    """Per-token weights from the inverse frequency of loss buckets (module docstring)."""

    def __init__(self, config: ReweightConfig) -> None:
        self.config = config
        self.scale: float | None = None  # EMA of the max scored loss
        self.hist = torch.zeros(config.num_buckets, dtype=torch.float64)

    def weights(self, ce: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ce, mask: [B, T] -> weights [B, T] (0 where mask is 0); updates the EMA state."""
        cfg = self.config
        valid = mask > 0
        if not bool(valid.any()):  # nothing scored: nothing to learn from, state unchanged
            return torch.zeros_like(mask)
        scored = ce.detach().double()[valid].cpu()
        d = cfg.ema_decay
        top = float(scored.max())
        self.scale = top if self.scale is None else d * self.scale + (1 - d) * top
        buckets = (scored / max(self.scale, 1e-12) * cfg.num_buckets).long().clamp(0, cfg.num_buckets - 1)
        freq = torch.bincount(buckets, minlength=cfg.num_buckets).double() / buckets.numel()
        self.hist = freq if not bool(self.hist.any()) else d * self.hist + (1 - d) * freq
        inv = 1.0 / self.hist[buckets].clamp_min(1e-12)
        inv = inv / inv.mean()  # scored tokens of this batch average weight 1
        w = torch.zeros_like(mask, dtype=torch.float64).cpu()
        w[valid.cpu()] = (1 - cfg.strength) + cfg.strength * inv
        return w.to(mask.dtype).to(mask.device) * mask

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "hist": self.hist.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale, self.hist = state["scale"], state["hist"].double()


class HighLossReplay:
    """A bounded buffer of training rows ranked by loss, replayed into later batches."""

    def __init__(self, config: ReplayConfig) -> None:
        self.config = config
        self.rows: Batch | None = None  # [N ≤ capacity, T] each
        self.losses = torch.zeros(0, dtype=torch.float64)
        self.replayed = 0  # rows replayed so far (tests and reports read it)

    def inject(self, batch: Batch) -> Batch:
        """Replace the last ⌊fraction·B⌋ rows with the buffer's highest-loss rows (taken out)."""
        b = batch.inputs.shape[0]
        r = min(int(self.config.fraction * b), len(self.losses))
        if r == 0 or self.rows is None or self.rows.inputs.shape[1] != batch.inputs.shape[1]:
            return batch
        order = torch.argsort(self.losses, descending=True, stable=True)
        take, keep = order[:r], order[r:]
        parts = [
            torch.cat([fresh[: b - r], held[take].to(fresh.dtype)])
            for fresh, held in zip(
                (batch.inputs, batch.targets, batch.mask),
                (self.rows.inputs, self.rows.targets, self.rows.mask),
                strict=True,
            )
        ]
        self.rows = Batch(self.rows.inputs[keep], self.rows.targets[keep], self.rows.mask[keep])
        self.losses = self.losses[keep]
        self.replayed += r
        return Batch(*parts)

    def observe(self, batch: Batch, ce: torch.Tensor) -> None:
        """Every row of the step enters with its mean scored CE; the lowest-loss rows fall out."""
        mask = batch.mask.cpu()
        row_loss = ((ce.detach().cpu() * mask).sum(1) / mask.sum(1).clamp_min(1.0)).double()
        scored = mask.sum(1) > 0
        new = Batch(batch.inputs.cpu()[scored], batch.targets.cpu()[scored], mask[scored])
        if self.rows is not None and self.rows.inputs.shape[1] == new.inputs.shape[1]:
            new = Batch(*(torch.cat([a, c]) for a, c in zip(
                (self.rows.inputs, self.rows.targets, self.rows.mask),
                (new.inputs, new.targets, new.mask), strict=True)))
            losses = torch.cat([self.losses, row_loss[scored]])
        else:
            losses = row_loss[scored]
        keep = torch.argsort(losses, descending=True, stable=True)[: self.config.capacity]
        self.rows = Batch(new.inputs[keep], new.targets[keep], new.mask[keep])
        self.losses = losses[keep]

    def state_dict(self) -> dict[str, Any]:
        if self.rows is None or len(self.losses) == 0:
            return {"rows": None, "replayed": self.replayed}
        rows = {"inputs": self.rows.inputs, "targets": self.rows.targets, "mask": self.rows.mask}
        return {"rows": rows, "losses": self.losses, "replayed": self.replayed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.replayed = int(state["replayed"])
        if state["rows"] is None:
            self.rows, self.losses = None, torch.zeros(0, dtype=torch.float64)
        else:
            r = state["rows"]
            self.rows, self.losses = Batch(r["inputs"], r["targets"], r["mask"]), state["losses"].double()


class Levers:
    """The trainer's hook: batch source and loss mask for one run of `total_steps` on `task`."""

    def __init__(self, config: LeverConfig, task: Task, total_steps: int) -> None:
        self.config = config
        self.curriculum = (
            None if config.curriculum is None else Curriculum(config.curriculum, task, total_steps)
        )
        self.reweight = None if config.reweight is None else LossBucketReweighting(config.reweight)
        self.replay = None if config.replay is None else HighLossReplay(config.replay)

    @property
    def stateful(self) -> bool:
        return self.reweight is not None or self.replay is not None

    def fingerprint_data(self) -> Any:
        return to_jsonable(self.config)

    def batch(self, step: int, batch_size: int, gen: torch.Generator, task: Task) -> Batch:
        if self.curriculum is not None:
            batch = self.curriculum.batch(step, batch_size, gen)
        else:
            batch = task.sample(batch_size, gen)
        return self.replay.inject(batch) if self.replay is not None else batch

    def loss_mask(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        """logits [B, T, V] (any grad state) -> the mask the loss uses, [B, T] (no gradient)."""
        if not self.stateful:
            return batch.mask
        with torch.no_grad():
            ce = F.cross_entropy(logits.detach().float().flatten(0, 1), batch.targets.flatten(),
                                 reduction="none").view_as(batch.mask)
        if self.replay is not None:
            self.replay.observe(batch, ce)
        return batch.mask if self.reweight is None else self.reweight.weights(ce, batch.mask)

    def state_dict(self) -> dict[str, Any]:
        return {
            "reweight": None if self.reweight is None else self.reweight.state_dict(),
            "replay": None if self.replay is None else self.replay.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.reweight is not None:
            self.reweight.load_state_dict(state["reweight"])
        if self.replay is not None:
            self.replay.load_state_dict(state["replay"])
