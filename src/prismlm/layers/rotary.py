"""Rotary position embedding (interleaved even/odd pairs, base 10000)."""

from __future__ import annotations

import torch
from torch import nn


class Rotary(nn.Module):
    """Rotates x: [B, H, T, D] (D even) at positions offset..offset+T−1, for positions < max_len.

    Pair i of a vector, (x_{2i} + i·x_{2i+1}), is multiplied by e^{i·θ_i·pos}: one complex multiply.
    The (cos, sin) table is derived data, computed on first use per device and never stored in
    a checkpoint, so modules built on the meta device (as Hugging Face loading does) stay exact.
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary needs an even head dimension, got {head_dim}")
        self.head_dim, self.max_len, self.base = head_dim, max_len, base
        self._tables: dict[torch.device, torch.Tensor] = {}

    def _phases(self, device: torch.device) -> torch.Tensor:
        table = self._tables.get(device)
        if table is None:
            inv_freq = self.base ** (
                -torch.arange(0, self.head_dim, 2, dtype=torch.float64) / self.head_dim
            )
            angles = torch.arange(self.max_len, dtype=torch.float64)[:, None] * inv_freq[None, :]
            table = torch.polar(torch.ones_like(angles), angles).to(torch.complex64).to(device)
            self._tables[device] = table  # [max_len, D/2] complex
        return table

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = x.shape[-2]
        if offset + T > self.max_len:
            raise ValueError(
                f"position {offset + T - 1} is beyond the rotary table (max_len {self.max_len})"
            )
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        rotated = torch.view_as_real(pairs * self._phases(x.device)[offset : offset + T])
        return rotated.flatten(-2).to(x.dtype)
