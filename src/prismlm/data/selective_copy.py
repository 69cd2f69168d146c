"""Selective copy (spec §4): reproduce the K data tokens scattered in a memory of L fillers.

Row, T = L + 1 + K: a memory of L zeros whose K positions (random, distinct, in order; or with
`fixed`, floor(linspace(0, L - 1, K))) hold data tokens uniform in [1, V - 1); the marker V - 1;
then the K data tokens again (teacher forcing). Targets are the inputs shifted left by one and
only positions L .. L + K - 1 are scored (the marker predicts d_1, d_{K-1} predicts d_K).
The fixed-position variant is the control: it needs no content-based selection.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import require
from .task import Batch


def fixed_positions(mem_len: int, n_data: int) -> torch.Tensor:
    """floor(linspace(0, mem_len - 1, n_data)): 0, 4, 8, 12, 16, 21, ..., 63 for (64, 16)."""
    return torch.linspace(0, mem_len - 1, n_data, dtype=torch.float64).floor().long()


def copy_rows(memory: torch.Tensor, data: torch.Tensor, marker: int) -> Batch:
    """[memory | marker | data] with next-token targets scored on the data-emitting positions."""
    B, L = memory.shape
    K = data.shape[1]
    inputs = torch.cat([memory, torch.full((B, 1), marker, dtype=torch.long), data], dim=1)
    targets = torch.zeros_like(inputs)
    targets[:, :-1] = inputs[:, 1:]
    mask = torch.zeros(B, L + 1 + K)
    mask[:, L : L + K] = 1.0
    return Batch(inputs, targets, mask)


@dataclass
class SelectiveCopy:
    vocab_size: int = 32
    mem_len: int = 64
    n_data: int = 16
    fixed: bool = False

    def __post_init__(self) -> None:
        require(
            self.vocab_size >= 3,
            "vocab_size",
            f"must be >= 3 (filler 0, data, marker), got {self.vocab_size}",
        )
        require(self.n_data >= 1, "n_data", f"must be >= 1, got {self.n_data}")
        require(
            self.mem_len >= self.n_data,
            "mem_len",
            f"must be >= n_data={self.n_data}, got {self.mem_len}",
        )

    @property
    def max_seq_len(self) -> int:
        return self.mem_len + 1 + self.n_data

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        B, L, K = batch_size, self.mem_len, self.n_data
        data = torch.randint(1, self.vocab_size - 1, (B, K), generator=generator)
        if self.fixed:
            pos = fixed_positions(L, K).expand(B, K)
        else:
            pos = torch.rand(B, L, generator=generator).argsort(dim=-1)[:, :K].sort(dim=-1).values
        memory = torch.zeros(B, L, dtype=torch.long).scatter(1, pos, data)
        return copy_rows(memory, data, self.vocab_size - 1)

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self.sample(batch_size, generator)
