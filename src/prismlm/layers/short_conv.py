"""Causal depthwise short convolution (token shift / local mixing)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .decode_weights import decode_weights


class ShortConv(nn.Module):
    """y_t = b + Σ_{i<k} w_i ⊙ x_{t−k+1+i}, per channel (left-padded, so causal).

    forward: x [B, T, D] -> [B, T, D]. step: x_t [B, D] with ring [B, k−1, D] of the previous
    inputs -> (y_t [B, D], new ring).
    """

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(dim, dim, kernel_size, groups=dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x.transpose(1, 2), (self.kernel_size - 1, 0))
        return self.conv(x).transpose(1, 2)

    def init_ring(self, batch: int, dim: int, device, dtype) -> torch.Tensor:
        return torch.zeros(batch, self.kernel_size - 1, dim, device=device, dtype=dtype)

    def decode_taps(self) -> torch.Tensor:
        """The kernel as a contiguous [k, D] (tap i multiplies x_{t−k+1+i}), for `step`."""
        return self.conv.weight[:, 0].t().contiguous()

    def step(
        self, x_t: torch.Tensor, ring: torch.Tensor, taps: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """taps: `decode_taps()`, which a caller may hold in its own decode layout; without
        them they are reused per decode session (layers.decode_weights)."""
        window = torch.cat((ring, x_t[:, None]), dim=1)  # [B, k, D]
        if taps is None:
            taps = decode_weights(self, lambda: {"w": self.decode_taps()})["w"]
        # one vecdot over k, where einsum would route this tiny contraction through a batched
        # matmul, ~10× slower
        return torch.linalg.vecdot(window, taps, dim=1) + self.conv.bias, window[:, 1:]
