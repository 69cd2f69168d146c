"""Memory-tape recurrence and addressing: the pure tensor functions behind PRISM's shared tape.

The tape M ∈ R^{S × d_mem} is written NTM-style with a per-slot weighting w_t ∈ Δ^S, an erase
vector e_t ∈ (0, 1)^{d_mem}, an add vector a_t and a scalar write strength g_t ∈ [0, 1]:

    M_t = M_{t−1} ⊙ (1 − g_t w_t e_tᵀ) + g_t w_t a_tᵀ  =  A_t ⊙ M_{t−1} + B_t

— a diagonal (element-wise) linear recurrence with A_t ∈ [0, 1]. Such updates compose
associatively: (A₂, B₂) ∘ (A₁, B₁) = (A₂ A₁, A₂ B₁ + B₂). Forms:

* `tape_scan_recurrent` — the loop over t (reference).
* `tape_scan` — the training form: an autograd Function whose forward writes M in place, step by
  step (`chunk=None`), or by a two-level chunked scan (`chunk=C`: all chunks at once in C
  vectorised steps, then a pass over the n chunk boundaries; ≈ C + n sequential steps). Its
  backward is the adjoint recurrence, itself a tape scan run backwards in time:

      G_t = ∂L/∂M_t + A_{t+1} ⊙ G_{t+1},   ∂L/∂B_t = G_t,   ∂L/∂A_t = G_t ⊙ M_{t−1},
      ∂L/∂M_0 = A_1 ⊙ G_1 (summed over broadcast rows)

  so a step costs one [Bt, S, d] fused multiply-add each way and no autograd graph over T
  (the graph of a Python loop stores, and its backward re-allocates, a tensor per step). Both
  kernels only multiply numbers in [0, 1] and never divide, so they stay exact when cumulative
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
from torch.autograd.function import once_differentiable

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
    """M_t = A_t ⊙ M_{t−1} + B_t with a hand-written backward. a, b: [Bt, T, S, d] -> [Bt, T, S, d].

    chunk: None scans step by step in place (fastest on CPU at training sizes); C ≥ 1 runs the
    two-level chunked scan with chunks of C steps (fewer sequential steps at long T). Equal to
    `tape_scan_recurrent` in value and gradient up to rounding (tests/ops).
    """
    _check(a, b)
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    out_dtype, dt = _dtypes(a, b, m0)
    if a.shape[1] == 0:
        return b.to(out_dtype)
    a, b, m0 = cast(dt, a, b, m0)
    return _TapeScan.apply(a, b, m0, chunk).to(out_dtype)


@torch.no_grad()
def _scan_kernel(a: torch.Tensor, b: torch.Tensor, m0: torch.Tensor, chunk: int | None) -> torch.Tensor:
    """The forward values of the scan, no graph. a, b: [Bt, T, S, d]; m0 broadcasts to [Bt, S, d]."""
    bt, t = b.shape[:2]
    if chunk is None or chunk >= t:
        out = torch.empty_like(b, memory_format=torch.contiguous_format)
        prev = m0.expand_as(b[:, 0])
        for i in range(t):
            prev = torch.addcmul(b[:, i], a[:, i], prev, out=out[:, i])
        return out
    c, n = chunk, -(-t // chunk)
    if n * c != t:  # identity maps (A = 1, B = 0) pad the last chunk
        a = F.pad(a, (0, 0, 0, 0, 0, n * c - t), value=1.0)
        b = F.pad(b, (0, 0, 0, 0, 0, n * c - t), value=0.0)
    a, b = a.unflatten(1, (n, c)), b.unflatten(1, (n, c))
    # Level 1: every chunk from a zero state (local) and the running products ΠA (prod).
    local = torch.empty_like(b, memory_format=torch.contiguous_format)
    prod = torch.empty_like(local)
    local[:, :, 0], prod[:, :, 0] = b[:, :, 0], a[:, :, 0]
    for i in range(1, c):
        torch.addcmul(b[:, :, i], a[:, :, i], local[:, :, i - 1], out=local[:, :, i])
        torch.mul(a[:, :, i], prod[:, :, i - 1], out=prod[:, :, i])
    # Level 2: the true state entering each chunk, then M = ΠA ⊙ carry + local.
    carry = torch.empty_like(local[:, :, 0])
    m = m0.expand_as(carry[:, 0])
    for j in range(n):
        carry[:, j] = m
        m = torch.addcmul(local[:, j, -1], prod[:, j, -1], m)
    return local.addcmul_(prod, carry[:, :, None]).flatten(1, 2)[:, :t]


class _TapeScan(torch.autograd.Function):
    """Forward: `_scan_kernel`. Backward: the adjoint scan of the module docstring."""

    @staticmethod
    def forward(ctx, a, b, m0, chunk):
        out = _scan_kernel(a, b, m0, chunk)
        ctx.save_for_backward(a, m0, out)
        ctx.chunk = chunk
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        a, m0, out = ctx.saved_tensors
        t = a.shape[1]
        if ctx.chunk is None or ctx.chunk >= t:
            g = torch.empty_like(out)
            g[:, -1] = grad[:, -1]
            for i in range(t - 2, -1, -1):
                torch.addcmul(grad[:, i], a[:, i + 1], g[:, i + 1], out=g[:, i])
        else:
            # G runs backwards in time with A shifted by one step; flipping time makes it a
            # forward scan from G_T = 0 (the pad value multiplies that zero state: any will do).
            a_next = torch.cat([a[:, 1:], torch.ones_like(a[:, :1])], dim=1)
            g = _scan_kernel(a_next.flip(1), grad.flip(1), grad.new_zeros(()), ctx.chunk).flip(1)
        grad_a = grad_m0 = None
        if ctx.needs_input_grad[0]:
            grad_a = torch.empty_like(g)
            torch.mul(g[:, 1:], out[:, :-1], out=grad_a[:, 1:])
            torch.mul(g[:, 0], m0, out=grad_a[:, 0])
        if ctx.needs_input_grad[2]:
            grad_m0 = (a[:, 0] * g[:, 0]).sum_to_size(m0.shape)
        return grad_a, g if ctx.needs_input_grad[1] else None, grad_m0, None
