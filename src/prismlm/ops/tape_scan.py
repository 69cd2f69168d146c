"""Memory-tape recurrence and addressing: the pure tensor functions behind PRISM's shared tape.

The tape M ∈ R^{S × d_mem} is written NTM-style with a per-slot weighting w_t ∈ Δ^S, an erase
vector e_t ∈ (0, 1)^{d_mem}, an add vector a_t and a scalar write strength g_t ∈ [0, 1]:

    M_t = M_{t−1} ⊙ (1 − g_t w_t e_tᵀ) + g_t w_t a_tᵀ  =  A_t ⊙ M_{t−1} + B_t

— a diagonal (element-wise) linear recurrence with A_t ∈ [0, 1]. Such updates compose
associatively: (A₂, B₂) ∘ (A₁, B₁) = (A₂ A₁, A₂ B₁ + B₂). Forms:

* `tape_scan_recurrent` — the loop over t (reference).
* `tape_scan` — two-level chunked scan: all chunks are scanned at once (C vectorised steps),
  then a sequential pass over the n chunk boundaries carries the state; ≈ 2√T sequential steps.
  It only multiplies numbers in [0, 1] and never divides, so it stays exact when cumulative
  products of A underflow to 0 (a log-space cumsum with a division would not).
* `tape_step` — one decode step.

Shapes: A, B: [Bt, T, S, d_mem]; m0: [Bt, S, d_mem] (or [S, d_mem], broadcast). Output:
the tape after each step, M: [Bt, T, S, d_mem] (M[:, t] includes the write at t).

Dtypes (`ops.numerics`): the scans compute in fp32 (fp64 for fp64 inputs) and return M in
promote(a, b, m0).dtype, so a bf16 tape does not round its running products at every step.
Both scans are elementwise along t, so a NaN/inf at step t reaches steps ≥ t only (no masked
matmul mixes steps); T = 0 returns an empty M.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .numerics import cast, compute_dtype


def write_maps(
    weights: torch.Tensor, erase: torch.Tensor, add: torch.Tensor, strength: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B) of the NTM erase/add write. weights: [..., S], erase/add: [..., d_mem], strength: [...].

    A = 1 − g w eᵀ, B = g w aᵀ; both [..., S, d_mem].
    """
    gw = (strength[..., None] * weights)[..., :, None]
    return 1 - gw * erase[..., None, :], gw * add[..., None, :]


def compose_maps(
    first: tuple[torch.Tensor, torch.Tensor] | None, second: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The map "apply `first`, then `second`" (None = identity)."""
    if first is None:
        return second
    a1, b1 = first
    a2, b2 = second
    return a2 * a1, a2 * b1 + b2


def content_read(query: torch.Tensor, tape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Content-addressed read. query: [..., d_mem], tape: [..., S, d_mem].

    weights = softmax(q·Mᵀ / √d_mem) over slots, r = weights · M. Returns (r [..., d_mem],
    weights [..., S]).
    """
    scores = torch.einsum("...d,...sd->...s", query, tape) / math.sqrt(query.shape[-1])
    weights = torch.softmax(scores, dim=-1)
    return torch.einsum("...s,...sd->...d", weights, tape), weights


def tape_step(
    a: torch.Tensor, b: torch.Tensor, m: torch.Tensor
) -> torch.Tensor:
    """One step: M ← A ⊙ M + B. All [Bt, S, d_mem]."""
    return a * m + b


def tape_scan_recurrent(a: torch.Tensor, b: torch.Tensor, m0: torch.Tensor) -> torch.Tensor:
    """Reference loop. a, b: [Bt, T, S, d] -> M: [Bt, T, S, d]."""
    _check(a, b)
    out_dtype, dt = _dtypes(a, b, m0)
    a, b, m0 = cast(dt, a, b, m0)
    m = m0.expand(a.shape[0], *a.shape[2:])
    out = []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):
        m = a_t * m + b_t
        out.append(m)
    return (torch.stack(out, dim=1) if out else b).to(out_dtype)


def _check(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"a and b must share a [B, T, S, d] shape, got {a.shape} and {b.shape}")


def _dtypes(a, b, m0) -> tuple[torch.dtype, torch.dtype]:
    """(output dtype, compute dtype) of a tape scan."""
    return torch.promote_types(torch.promote_types(a.dtype, b.dtype), m0.dtype), compute_dtype(a, b, m0)


def tape_scan(
    a: torch.Tensor, b: torch.Tensor, m0: torch.Tensor, chunk: int | None = None
) -> torch.Tensor:
    """Two-level chunked scan of M_t = A_t ⊙ M_{t−1} + B_t. a, b: [Bt, T, S, d] -> [Bt, T, S, d].

    T is cut into n chunks of C steps (C = ⌈√T⌉ by default). Level 1 scans all chunks at once
    from a zero state, C vectorised steps, keeping the running products ΠA; level 2 carries the
    true state across the n chunk boundaries; the output is ΠA ⊙ carry + local. C + n ≈ 2√T
    sequential steps instead of T, and only products of numbers in [0, 1] — no division.
    """
    _check(a, b)
    bt, t = a.shape[:2]
    c = chunk if chunk is not None else math.isqrt(max(t, 1) - 1) + 1
    if c < 1:
        raise ValueError(f"chunk must be >= 1, got {c}")
    out_dtype, dt = _dtypes(a, b, m0)
    if t == 0:
        return b.to(out_dtype)
    a, b, m0 = cast(dt, a, b, m0)
    c = min(c, t)
    n = -(-t // c)
    if n * c != t:
        # Identity maps (A = 1, B = 0) pad the last chunk.
        a = F.pad(a, (0, 0, 0, 0, 0, n * c - t), value=1.0)
        b = F.pad(b, (0, 0, 0, 0, 0, n * c - t), value=0.0)
    # unbind (not indexing in the loop): its backward stacks the gradients once instead of
    # materialising a zero-filled full-size tensor per step.
    a_steps = a.unflatten(1, (n, c)).unbind(2)
    b_steps = b.unflatten(1, (n, c)).unbind(2)
    pa, pb = a_steps[0], b_steps[0]
    prods, locals_ = [pa], [pb]
    for i in range(1, c):
        pa, pb = a_steps[i] * pa, a_steps[i] * pb + b_steps[i]
        prods.append(pa)
        locals_.append(pb)
    prod, local = torch.stack(prods, dim=2), torch.stack(locals_, dim=2)  # [Bt, n, C, S, d]
    m = m0.expand_as(pa[:, 0])
    carries = []
    for pa_j, pb_j in zip(pa.unbind(1), pb.unbind(1), strict=True):
        carries.append(m)
        m = pa_j * m + pb_j
    out = prod * torch.stack(carries, dim=1)[:, :, None] + local
    return out.flatten(1, 2)[:, :t].to(out_dtype)
