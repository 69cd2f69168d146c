"""Multi-query associative recall (MQAR) and its mixed-difficulty variant (spec §4).

Layout of one row (D pairs, gap g, M queries), T = 2D + g + M:
    [k_1 v_1 ... k_D v_D] [0]*g [q_1 ... q_M]
Keys are D distinct ids from [1, n_key), n_key = max(D + 1, floor(V * key_frac)); values are
i.i.d. from [n_key, V); each query is one of the row's keys (uniform, with replacement). The
target at a query position is the value bound to that key; only the M query positions are scored.
Chance accuracy is 1 / (V - n_key).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import require
from .task import Batch


def mqar_batch(
    batch_size: int,
    vocab_size: int,
    num_pairs: int,
    num_queries: int,
    gap: int,
    key_frac: float,
    generator: torch.Generator,
) -> Batch:
    """One MQAR batch; every draw comes from `generator`. Returns inputs/targets/mask [B, T]."""
    B, D, M = batch_size, num_pairs, num_queries
    n_key = key_count(vocab_size, D, key_frac)
    keys = torch.rand(B, n_key - 1, generator=generator).argsort(dim=-1)[:, :D] + 1
    values = torch.randint(n_key, vocab_size, (B, D), generator=generator)
    which = torch.randint(0, D, (B, M), generator=generator)
    queries, answers = keys.gather(1, which), values.gather(1, which)
    pairs = torch.stack([keys, values], dim=-1).reshape(B, 2 * D)
    filler = torch.zeros(B, gap, dtype=torch.long)
    inputs = torch.cat([pairs, filler, queries], dim=1)
    targets = torch.cat([torch.zeros(B, 2 * D + gap, dtype=torch.long), answers], dim=1)
    mask = torch.cat([torch.zeros(B, 2 * D + gap), torch.ones(B, M)], dim=1)
    return Batch(inputs, targets, mask)


def key_count(vocab_size: int, num_pairs: int, key_frac: float) -> int:
    """n_key = max(D + 1, floor(V · key_frac)): keys are drawn from [1, n_key), values from [n_key, V)."""
    return max(num_pairs + 1, int(math.floor(vocab_size * key_frac)))


def _check_vocab(vocab_size: int, num_pairs: int, key_frac: float) -> None:
    require(num_pairs >= 1, "num_pairs", f"must be >= 1, got {num_pairs}")
    require(0 < key_frac < 1, "key_frac", f"must be in (0, 1), got {key_frac}")
    n_key = key_count(vocab_size, num_pairs, key_frac)
    require(
        vocab_size > n_key,
        "vocab_size",
        f"{vocab_size} is too small for {num_pairs} key-value pairs: keys need ids "
        f"[1, {n_key}) and values at least one id above them (need vocab_size >= {n_key + 1})",
    )


@dataclass
class MQAR:
    """Fixed-difficulty MQAR. num_queries 0 means max(2·num_pairs, 8)."""

    vocab_size: int = 512
    num_pairs: int = 128
    num_queries: int = 0
    gap: int = 0
    key_frac: float = 0.5

    def __post_init__(self) -> None:
        _check_vocab(self.vocab_size, self.num_pairs, self.key_frac)
        if self.num_queries == 0:
            self.num_queries = max(2 * self.num_pairs, 8)
        require(self.num_queries >= 1, "num_queries", f"must be >= 1, got {self.num_queries}")
        require(self.gap >= 0, "gap", f"must be >= 0, got {self.gap}")

    @property
    def max_seq_len(self) -> int:
        return 2 * self.num_pairs + self.gap + self.num_queries

    @property
    def chance(self) -> float:
        return 1.0 / (self.vocab_size - key_count(self.vocab_size, self.num_pairs, self.key_frac))

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return mqar_batch(
            batch_size,
            self.vocab_size,
            self.num_pairs,
            self.num_queries,
            self.gap,
            self.key_frac,
            generator,
        )

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self.sample(batch_size, generator)


@dataclass
class MixedMQAR:
    """MQAR whose number of pairs is drawn per batch from U{min_pairs..max_pairs} for training;
    evaluation always uses max_pairs. The whole batch shares one D, so T varies per batch."""

    vocab_size: int = 512
    max_pairs: int = 128
    num_queries: int = 128
    gap: int = 0
    min_pairs: int = 1
    key_frac: float = 0.5

    def __post_init__(self) -> None:
        require(
            1 <= self.min_pairs <= self.max_pairs,
            "min_pairs",
            f"must be in [1, max_pairs={self.max_pairs}], got {self.min_pairs}",
        )
        _check_vocab(self.vocab_size, self.max_pairs, self.key_frac)
        require(self.num_queries >= 1, "num_queries", f"must be >= 1, got {self.num_queries}")
        require(self.gap >= 0, "gap", f"must be >= 0, got {self.gap}")

    @property
    def max_seq_len(self) -> int:
        return 2 * self.max_pairs + self.gap + self.num_queries

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        d = int(torch.randint(self.min_pairs, self.max_pairs + 1, (1,), generator=generator))
        return mqar_batch(
            batch_size, self.vocab_size, d, self.num_queries, self.gap, self.key_frac, generator
        )

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return mqar_batch(
            batch_size,
            self.vocab_size,
            self.max_pairs,
            self.num_queries,
            self.gap,
            self.key_frac,
            generator,
        )
