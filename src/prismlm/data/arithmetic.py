"""Chained arithmetic (PRISM's "reasoning" task): evaluate x0 ∘1 x1 ∘2 … ∘n xn modulo m.

Row, T = 2n + 2 (+ n − 1 with the scratchpad):
    [x0 op1 x1 op2 x2 … opn xn =] answer              (scratchpad=False)
    [x0 op1 x1 … opn xn =] r1 r2 … rn                 (scratchpad=True: running results)
Digits x_i are uniform in [0, m); ops are uniform over + and − (mod m), left to right. Token ids:
digits 0..m−1, then '+', '−', '='. Only answer positions are scored (the running results with the
scratchpad, teacher-forced). Chance cross-entropy is ln m.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import require
from .task import Batch


@dataclass
class ChainedArithmetic:
    modulus: int = 10
    num_ops: int = 3
    scratchpad: bool = False

    def __post_init__(self) -> None:
        require(self.modulus >= 2, "modulus", f"must be >= 2, got {self.modulus}")
        require(self.num_ops >= 1, "num_ops", f"must be >= 1, got {self.num_ops}")

    @property
    def vocab_size(self) -> int:
        return self.modulus + 3

    @property
    def max_seq_len(self) -> int:
        return 2 * self.num_ops + 2 + (self.num_ops - 1 if self.scratchpad else 0)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        m, n, b = self.modulus, self.num_ops, batch_size
        plus, equals = m, m + 2
        digits = torch.randint(0, m, (b, n + 1), generator=generator)
        ops = torch.randint(0, 2, (b, n), generator=generator)  # 0: +, 1: −
        signed = torch.where(ops == 0, digits[:, 1:], -digits[:, 1:])
        running = (digits[:, :1] + signed.cumsum(1)) % m  # [B, n]: r1..rn
        expr = torch.empty(b, 2 * n + 1, dtype=torch.long)
        expr[:, 0::2] = digits
        expr[:, 1::2] = plus + ops
        answers = running if self.scratchpad else running[:, -1:]
        full = torch.cat([expr, torch.full((b, 1), equals), answers], dim=1)
        inputs, targets = full[:, :-1], full[:, 1:].clone()
        mask = torch.zeros(b, inputs.shape[1])
        mask[:, -answers.shape[1] :] = 1.0
        targets[mask == 0] = 0
        return Batch(inputs, targets, mask)

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self.sample(batch_size, generator)

