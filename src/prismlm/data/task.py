"""The protocol every training task in prismlm follows.

A task is a pure function of (config, seed): `sample(batch_size, generator)` draws a batch from
the given `torch.Generator` only (never the global RNG), so a stream of batches is reproduced
exactly by re-seeding. Loss and accuracy count only positions where `mask` is 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch


@dataclass
class Batch:
    """inputs, targets: [B, T] int64; mask: [B, T] float32 (1 where the protocol scores)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.inputs.to(device), self.targets.to(device), self.mask.to(device))


@runtime_checkable
class Task(Protocol):
    """A batch generator with a fixed vocabulary.

    vocab_size: number of token ids the task emits (models need at least this many).
    max_seq_len: the longest T `sample` can return (models with a max_len need at least this).
    sample: draw a training batch. eval_sample: draw an evaluation batch (fixed difficulty);
    tasks without a distinct eval distribution return `sample(...)`.
    """

    vocab_size: int
    max_seq_len: int

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch: ...

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch: ...
