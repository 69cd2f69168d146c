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
        # (x_{2i} + i·x_{2i+1}) · e^{i·θ} is the rotation of pair i: one complex multiply. Stored
        # as real (cos, sin) pairs so that casting the module never meets a complex buffer.
        phases = torch.stack((angles.cos(), angles.sin()), dim=-1)  # [max_len, D/2, 2]
        self.register_buffer("phases", phases, persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """x: [..., T, D] float32 -> rotated copy at positions offset..offset+T−1."""
        T = x.shape[-2]
        if offset + T > self.max_len:
            raise ValueError(
                f"position {offset + T - 1} is beyond the rotary table (max_len {self.max_len})"
            )
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        rotation = torch.view_as_complex(self.phases[offset : offset + T].float())
        rotated = torch.view_as_real(pairs * rotation)
        return rotated.flatten(-2).to(x.dtype)
