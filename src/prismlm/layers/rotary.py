"""Rotary position embedding (interleaved even/odd pairs, base 10000)."""

from __future__ import annotations

import torch
from torch import nn


class Rotary(nn.Module):
    """Rotates x: [B, H, T, D] (D even) at positions offset..offset+T−1, for positions < max_len.

    Pair i of a vector, (x_{2i} + i·x_{2i+1}), is multiplied by e^{i·θ_i·pos}, θ_i = base^{−2i/D}.
    The table holds (cos, sin) of every θ_i·pos as a real [max_len, D/2, 2] tensor, precomputed in
    float64 once per device. Eager code reads it as complex numbers (one complex multiply per
    call, the fewest ops); under `torch.compile`, whose code generator has no complex kernels,
    the same rotation is written out in reals, (x₀c − x₁s, x₀s + x₁c), and fuses with its
    neighbours. The table is derived data, never stored in a checkpoint, so modules built on the
    meta device (as Hugging Face loading does) stay exact.
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary needs an even head dimension, got {head_dim}")
        self.head_dim, self.max_len, self.base = head_dim, max_len, base
        self._tables: dict[torch.device, torch.Tensor] = {}

    def table(self, device: torch.device) -> torch.Tensor:
        """(cos, sin) per position and pair: [max_len, D/2, 2] float32 on `device`."""
        table = self._tables.get(device)
        if table is None:
            inv_freq = self.base ** (
                -torch.arange(0, self.head_dim, 2, dtype=torch.float64) / self.head_dim
            )
            angles = torch.arange(self.max_len, dtype=torch.float64)[:, None] * inv_freq[None, :]
            table = torch.stack((angles.cos(), angles.sin()), dim=-1).float().to(device)
            self._tables[device] = table
        return table

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = x.shape[-2]
        if offset + T > self.max_len:
            raise ValueError(
                f"position {offset + T - 1} is beyond the rotary table (max_len {self.max_len})"
            )
        cs = self.table(x.device)[offset : offset + T]  # [T, D/2, 2]
        pairs = x.float().reshape(*x.shape[:-1], -1, 2)
        if torch.compiler.is_compiling():
            c, s = cs[..., 0], cs[..., 1]
            x0, x1 = pairs[..., 0], pairs[..., 1]
            rotated = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
        else:
            rotated = torch.view_as_real(torch.view_as_complex(pairs) * torch.view_as_complex(cs))
        return rotated.flatten(-2).to(x.dtype)
