"""Induction heads task (spec §4): find the token that followed the query's earlier occurrence.

Row of prefix length L, T = L + 1: prefix tokens uniform in [1, V); a pair [A, B] (B != A) is
written at a uniform position p in [0, L - 3]; every other A in the prefix is replaced by the
filler (A mod (V - 1)) + 1, so A occurs exactly once before the query; the last token is A and
its target is B (the only scored position). Chance is about 1 / (V - 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import require
from .task import Batch


def induction_batch(batch_size: int, vocab_size: int, prefix_len: int, generator: torch.Generator) -> Batch:
    B, L, V = batch_size, prefix_len, vocab_size
    prefix = torch.randint(1, V, (B, L), generator=generator)
    a = torch.randint(1, V, (B,), generator=generator)
    b = torch.randint(1, V, (B,), generator=generator)
    b = torch.where(b == a, b % (V - 1) + 1, b)
    filler = a % (V - 1) + 1
    prefix = torch.where(prefix == a[:, None], filler[:, None], prefix)
    p = torch.randint(0, L - 2, (B,), generator=generator)
    rows = torch.arange(B)
    prefix[rows, p] = a
    prefix[rows, p + 1] = b
    inputs = torch.cat([prefix, a[:, None]], dim=1)
    targets = torch.zeros_like(inputs)
    targets[:, -1] = b
    mask = torch.zeros(B, L + 1)
    mask[:, -1] = 1.0
    return Batch(inputs, targets, mask)


def _check(vocab_size: int, prefix_len: int, field: str) -> None:
    require(vocab_size >= 4, "vocab_size", f"must be >= 4 for A, B and a filler, got {vocab_size}")
    require(prefix_len >= 3, field, f"must be >= 3 to hold the [A, B] pair, got {prefix_len}")


@dataclass
class Induction:
    vocab_size: int = 32
    prefix_len: int = 64

    def __post_init__(self) -> None:
        _check(self.vocab_size, self.prefix_len, "prefix_len")

    @property
    def max_seq_len(self) -> int:
        return self.prefix_len + 1

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return induction_batch(batch_size, self.vocab_size, self.prefix_len, generator)

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self.sample(batch_size, generator)


@dataclass
class MixedInduction:
    """Training draws the prefix length per batch from `lengths`; evaluation uses the longest."""

    vocab_size: int = 32
    lengths: tuple[int, ...] = (64, 128, 256)

    def __post_init__(self) -> None:
        self.lengths = tuple(int(n) for n in self.lengths)
        require(len(self.lengths) >= 1, "lengths", "must name at least one prefix length")
        for n in self.lengths:
            _check(self.vocab_size, n, "lengths")

    @property
    def max_seq_len(self) -> int:
        return max(self.lengths) + 1

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        i = int(torch.randint(0, len(self.lengths), (1,), generator=generator))
        return induction_batch(batch_size, self.vocab_size, self.lengths[i], generator)

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return induction_batch(batch_size, self.vocab_size, max(self.lengths), generator)
