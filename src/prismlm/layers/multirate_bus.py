"""Multi-Rate Bus (PRISM's temporal mixer): K fixed-rate exponential filters + a per-token scale gate.

    z = W_in x + b_in,  split into K groups z_k of width d_model / K
    h_k(t) = γ_k h_k(t−1) + (1 − γ_k) z_k(t),    γ_k = exp(−Δ_k), Δ log-spaced in [ln 2, ln 256]
    g(t) = σ(W_g x(t) + b_g) ∈ (0, 1)^K
    y(t) = W_out concat_k(g_k(t) h_k(t)) + b_out

Parameters: 2·d² + 2·d (in/out) + K·(d + 1) (gate). Causal by construction; training uses the
chunked scan of `ops.multirate_scan`, decoding keeps h: [B, d_model].
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..ops.multirate_scan import (
    log_spaced_rates,
    multirate_scan_chunked,
    multirate_scan_recurrent,
    multirate_scan_step,
)


class MultiRateBus(nn.Module):
    """x: [B, T, d_model] -> y: [B, T, d_model]. `last_gates` keeps g of the last call: [B, T, K]."""

    def __init__(
        self,
        d_model: int,
        num_rates: int = 4,
        min_rate: float = math.log(2.0),
        max_rate: float = math.log(256.0),
        chunk: int = 64,
        recurrent: bool = False,
    ) -> None:
        super().__init__()
        if d_model % num_rates:
            raise ValueError(f"d_model={d_model} must be divisible by num_rates={num_rates}")
        self.d_model, self.num_rates, self.chunk = d_model, num_rates, chunk
        self.recurrent = recurrent  # the reference loop instead of the chunked scan (benchmarks)
        self.register_buffer(
            "log_rates", log_spaced_rates(num_rates, min_rate, max_rate), persistent=False
        )
        self.w_in = nn.Linear(d_model, d_model)
        self.w_gate = nn.Linear(d_model, num_rates)
        self.w_out = nn.Linear(d_model, d_model)
        self.last_gates: torch.Tensor | None = None

    @property
    def half_lives(self) -> torch.Tensor:
        """ln 2 / Δ_k in tokens, one per rate group."""
        return math.log(2.0) / self.log_rates

    def _mix(self, h: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        k = self.num_rates
        gh = h.unflatten(-1, (k, self.d_model // k)) * gates[..., None]
        return self.w_out(gh.flatten(-2))

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [B, T, d], h0: [B, d] or None -> (y [B, T, d], state after the last step [B, d])."""
        gates = torch.sigmoid(self.w_gate(x))
        self.last_gates = gates.detach()
        z = self.w_in(x)
        if h0 is not None and x.shape[1] == 1:
            h = multirate_scan_step(z[:, 0], h0, self.log_rates)[:, None]
        elif self.recurrent:
            h = multirate_scan_recurrent(z, self.log_rates, h0)
        else:
            h = multirate_scan_chunked(z, self.log_rates, h0, chunk=self.chunk)
        return self._mix(h, gates), h[:, -1]

    def init_state(self, batch_size: int, device=None, dtype=torch.float32) -> torch.Tensor:
        return torch.zeros(batch_size, self.d_model, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [B, d_model], h: [B, d_model] -> (y [B, d_model], new h)."""
        y, h = self.forward(x[:, None], h)
        return y[:, 0], h
