"""Rotary position embedding (interleaved even/odd pairs, base 10000)."""

from __future__ import annotations

import torch
from torch import nn


class Rotary(nn.Module):
    """Precomputed cos/sin tables for positions [0, max_len).

    `forward(x, offset)` rotates x: [B, H, T, D] (D even) at positions offset..offset+T−1.
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary needs an even head dimension, got {head_dim}")
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles = torch.arange(max_len, dtype=torch.float32)[:, None] * inv_freq[None, :]
        self.max_len = max_len
        self.register_buffer("cos", angles.cos(), persistent=False)  # [max_len, D/2]
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = x.shape[-2]
        if offset + T > self.max_len:
            raise ValueError(
                f"position {offset + T - 1} is beyond the rotary table (max_len {self.max_len})"
            )
        cos = self.cos[offset : offset + T].to(x.dtype)
        sin = self.sin[offset : offset + T].to(x.dtype)
        even, odd = x[..., 0::2], x[..., 1::2]
        return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)
