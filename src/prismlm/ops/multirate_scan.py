"""Multi-rate exponential scan: h_k(t) = γ_k · h_k(t−1) + (1 − γ_k) · z_k(t), γ_k = exp(−Δ_k).

Channels are split into K equal groups; group k decays with its own fixed log-rate Δ_k > 0.

Three forms of the same operator:

* `multirate_scan_recurrent` — the plain loop over t, the reference anyone can check by eye.
* `multirate_scan_chunked` — the parallel form used in training. Within a chunk of C steps the scan
  is a matmul with the lower-triangular Toeplitz matrix L[t, s] = (1 − γ) γ^(t−s), s ≤ t; the
  state carried between chunks follows the same scan one level up, with rate γ^C, and is solved
  by recursion. Every coefficient is γ raised to a *non-negative* power, so nothing can overflow
  at any length (the closed form γ^t Σ_s γ^(−s) z(s) overflows once Δ·s > ~709, i.e. after ~128
  steps at Δ = ln 256, even in float64).
* `multirate_scan_step` — one decode step.

Shapes: z: [B, T, K·Dk], h0: [B, K·Dk] (or None for zeros), log_rates Δ: [K]. Output h: [B, T, K·Dk].

Dtypes (`ops.numerics`): every form computes in fp32 (fp64 for fp64 inputs) with autocast off and
returns h in promote(z, h0).dtype. A NaN/inf in z at step t reaches h at steps ≥ t of that channel
only, in every form; T = 0 returns an empty h.
"""

from __future__ import annotations

import math

import torch

from .numerics import cast, compute_dtype, finite_or_zero, full_precision, poison, reached_after


def log_spaced_rates(num_rates: int, low: float = math.log(2.0), high: float = math.log(256.0)):
    """K log-rates Δ_k spaced geometrically from `low` to `high` (half-life ln 2 / Δ_k)."""
    if num_rates == 1:
        return torch.tensor([low])
    return torch.logspace(math.log10(low), math.log10(high), num_rates)


def _check(z: torch.Tensor, log_rates: torch.Tensor) -> tuple[int, int]:
    if z.dim() != 3:
        raise ValueError(f"z must be [B, T, D], got shape {tuple(z.shape)}")
    k = log_rates.numel()
    if z.shape[-1] % k:
        raise ValueError(f"channel dim {z.shape[-1]} is not divisible by the {k} rates")
    if bool((log_rates <= 0).any()):
        raise ValueError("log-rates Δ must be > 0 (γ = exp(−Δ) < 1)")
    return k, z.shape[-1] // k


def multirate_scan_recurrent(
    z: torch.Tensor, log_rates: torch.Tensor, h0: torch.Tensor | None = None
) -> torch.Tensor:
    """Reference loop over time. z: [B, T, K·Dk] -> h: [B, T, K·Dk]."""
    k, dk = _check(z, log_rates)
    out_dtype, dt = _dtypes(z, h0)
    with full_precision(z.device.type):
        z, h0, log_rates = cast(dt, z, h0, log_rates)
        gamma = torch.exp(-log_rates).repeat_interleave(dk)  # [D]
        h = z.new_zeros(z.shape[0], z.shape[2]) if h0 is None else h0
        out = []
        for z_t in z.unbind(1):  # unbind, not z[:, t]: keeps the loop's backward linear in T
            h = gamma * h + (1 - gamma) * z_t
            out.append(h)
        h = torch.stack(out, dim=1) if out else z
    return h.to(out_dtype)


def _dtypes(z: torch.Tensor, h0: torch.Tensor | None) -> tuple[torch.dtype, torch.dtype]:
    """(output dtype, compute dtype) of a scan over z from h0."""
    out = z.dtype if h0 is None else torch.promote_types(z.dtype, h0.dtype)
    return out, compute_dtype(z, h0)


def multirate_scan_step(
    z_t: torch.Tensor, h: torch.Tensor, log_rates: torch.Tensor
) -> torch.Tensor:
    """One decode step. z_t, h: [B, K·Dk] -> new h: [B, K·Dk] in promote(z_t, h).dtype."""
    dk = z_t.shape[-1] // log_rates.numel()
    out_dtype, dt = _dtypes(z_t, h)
    z_t, h = cast(dt, z_t, h)  # elementwise only: autocast does not touch it
    gamma = torch.exp(-log_rates.to(dt)).repeat_interleave(dk)
    return (gamma * h + (1 - gamma) * z_t).to(out_dtype)


def _decay_matrix(log_rates: torch.Tensor, c: int, dtype, device) -> torch.Tensor:
    """[K, C, C] with entries γ_k^(t−s) for s ≤ t, else 0 (exponent clamped before exp)."""
    idx = torch.arange(c, device=device, dtype=dtype)
    diff = idx[:, None] - idx[None, :]
    lower = diff >= 0
    expo = -log_rates.to(dtype)[:, None, None] * diff.clamp(min=0)
    return torch.exp(expo) * lower


def _scan_grouped(u: torch.Tensor, log_rates: torch.Tensor, chunk: int) -> torch.Tensor:
    """Pure decay scan x(t) = γ x(t−1) + u(t) from x(−1) = 0. u: [B, T, K, Dk]."""
    b, t, k, dk = u.shape
    c = min(chunk, t)
    n = -(-t // c)
    if n * c != t:
        u = torch.nn.functional.pad(u, (0, 0, 0, 0, 0, n * c - t))
    uc = u.view(b, n, c, k, dk)
    mat = _decay_matrix(log_rates, c, u.dtype, u.device)  # [K, C, C]
    local = torch.einsum("kts,bnskd->bntkd", mat, uc)
    if n > 1:
        # States at chunk ends obey the same scan with rate γ^C; carry[i] enters chunk i.
        ends = local[:, :, -1]  # [B, n, K, Dk]
        carry_ends = _scan_grouped(ends, log_rates * c, chunk)
        carry = torch.cat([torch.zeros_like(carry_ends[:, :1]), carry_ends[:, :-1]], dim=1)
        powers = torch.exp(
            -log_rates.to(u.dtype)[None, :]
            * torch.arange(1, c + 1, device=u.device, dtype=u.dtype)[:, None]
        )  # [C, K]: γ^(τ+1) for offset τ within a chunk
        local = local + carry[:, :, None] * powers[None, None, :, :, None]
    return local.reshape(b, n * c, k, dk)[:, :t]


def multirate_scan_chunked(
    z: torch.Tensor, log_rates: torch.Tensor, h0: torch.Tensor | None = None, chunk: int = 64
) -> torch.Tensor:
    """Parallel two-level (recursive) scan, exact at any length. z: [B, T, K·Dk] -> [B, T, K·Dk].

    The intra-chunk matmul multiplies every step of a chunk (zeros above the diagonal included),
    so non-finite entries of z are zeroed first and put back as NaN at the steps ≥ t they reach.
    """
    k, dk = _check(z, log_rates)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    b, t, d = z.shape
    out_dtype, dt = _dtypes(z, h0)
    if t == 0:
        return z.to(out_dtype)
    with full_precision(z.device.type):
        z, h0, log_rates = cast(dt, z, h0, log_rates)
        bad = ~torch.isfinite(z)
        gamma = torch.exp(-log_rates)  # [K]
        u = (1 - gamma)[:, None] * finite_or_zero(z, bad).view(b, t, k, dk)
        h = _scan_grouped(u, log_rates, chunk).reshape(b, t, d)
        if h0 is not None:
            powers = torch.exp(
                -log_rates[None, :] * torch.arange(1, t + 1, device=z.device, dtype=dt)[:, None]
            )  # [T, K]
            h = h + (h0.view(b, 1, k, dk) * powers[None, :, :, None]).reshape(b, t, d)
        h = poison(h, reached_after(bad, inclusive=True, dim=1))
    return h.to(out_dtype)
