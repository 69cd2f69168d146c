"""Copy: reproduce a whole sequence of L random tokens after a marker.

Row, T = 2L + 1: L data tokens uniform in [1, V - 1), the marker V - 1, the same L tokens again
(teacher forcing); the marker and the first L - 1 copied tokens are scored on predicting the next
data token. It is selective copy with no fillers: a pure memory-capacity probe.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import require
from .selective_copy import copy_rows
from .task import Batch


@dataclass
class Copy:
    vocab_size: int = 32
    length: int = 32

    def __post_init__(self) -> None:
        require(
            self.vocab_size >= 3,
            "vocab_size",
            f"must be >= 3 (data and a marker), got {self.vocab_size}",
        )
        require(self.length >= 1, "length", f"must be >= 1, got {self.length}")

    @property
    def max_seq_len(self) -> int:
        return 2 * self.length + 1

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        data = torch.randint(1, self.vocab_size - 1, (batch_size, self.length), generator=generator)
        return copy_rows(data.clone(), data, self.vocab_size - 1)

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self.sample(batch_size, generator)
