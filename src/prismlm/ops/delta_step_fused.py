"""The delta-rule decode step with fewer ops: the state updated in place, q and k read together.

Same recurrence as `ops.delta_rule` (one token, per batch row and head, S ∈ R^{V×K}):

    o   = S q                         the pre-write read
    u   = β v − β^e α S k            (β^e = β unless an erase strength is given)
    S  ← α S + u kᵀ                   written into S's own storage (no new [B, H, V, K] tensor)

`delta_step_` takes φ(q) and φ(k) already stacked as one [B, H, 2, K] tensor — the layout the
mixer's decode step produces — so both reads are one batched matmul and nothing is re-stacked.
Per token that is 4 kernels without decay (matmul, sub, mul, addcmul_) where `delta_rule_step`
issues ~7 and allocates a new state; on CPU decoding such tiny ops, not FLOPs, set the latency.

It runs only where the in-place update is safe and the dtypes already agree (`can_fuse`); the
caller falls back to `delta_rule_step` otherwise (autograd through the state, mixed dtypes,
autocast), which keeps that function the one definition of the maths.

`decode_features` is the same idea for the feature map: quad2 on a handful of rows is cheapest
in its plain form l2n([x ; x_I ⊙ x_J]) (one index gather, one product, one concat, one norm),
not in the training path's norm-in-d_h-space form, which pays ~15 small ops and a pair-count
matmul per call to save passes over wide [B, H, T, d_φ] tensors that a decode step does not have.
"""

from __future__ import annotations

import torch

from .delta_rule import _MIN_DECAY
from .feature_maps import apply_feature_map, l2_normalize, quad2_features_reference


def can_fuse(phi: torch.Tensor, v: torch.Tensor, beta: torch.Tensor,
             alpha: torch.Tensor | None, state: torch.Tensor,
             erase: torch.Tensor | None = None) -> bool:
    """True when `delta_step_` may run: one float dtype throughout, no autocast, a contiguous
    state, and no autograd graph that an in-place write to `state` would invalidate."""
    # Cheapest tests first: this runs once per layer per decoded token.
    dtype = state.dtype
    if (dtype is not torch.float32 and dtype is not torch.float64) or phi.dtype is not dtype \
            or v.dtype is not dtype or beta.dtype is not dtype:
        return False
    if (alpha is not None and alpha.dtype is not dtype) or (erase is not None and erase.dtype is not dtype):
        return False
    if torch.is_autocast_enabled(state.device.type) or not state.is_contiguous():
        return False  # (the write goes through a view of S, which must alias S itself)
    if not torch.is_grad_enabled():
        return True
    tensors = (phi, v, beta, state) + tuple(g for g in (alpha, erase) if g is not None)
    return not any(t.requires_grad for t in tensors)


def delta_step_(
    phi: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None,
    state: torch.Tensor,
    erase: torch.Tensor | None = None,
    gate_scale: float = 1.0,
    state_t: torch.Tensor | None = None,
) -> torch.Tensor:
    """One decode step, updating `state` in place.

    phi: [B, H, 2, K] = [φ(q_t); φ(k_t)]; v: [B, H, V]; beta, alpha: [B, H] (alpha None: no
    decay); erase: [B, H] erase strength β^e (None: β^e = β); state: [B, H, V, K], S_{t-1} on
    entry and S_t on return. gate_scale c: the strengths used are c·β and c·β^e (the mixer's
    β_cap rides on the write's scalar instead of costing a multiply). Returns
    o_t = S_{t-1} φ(q_t): [B, H, V]. Equal to
    `delta_rule_step(phi[:, :, 0], phi[:, :, 1], v, c·beta, alpha, state, c·erase)`.
    state_t: optionally `state` viewed as [B·H, K, V] (the transpose of its [B·H, V, K] view); a
    caller that keeps it across steps saves the two view ops that make it.
    """
    B, H, V, K = state.shape
    # [φ(q); φ(k)] Sᵀ for every (row, head) in one bmm over 3-D views: S q and S k together
    # (torch.matmul on the 4-D tensors adds its own reshapes, ~10 µs per call here).
    if state_t is None:
        state_t = state.view(B * H, V, K).transpose(1, 2)
    reads = torch.bmm(phi.reshape(B * H, 2, K), state_t)
    o, s_k = reads.view(B, H, 2, V).unbind(2)
    k = phi[:, :, 1:]  # [B, H, 1, K]: the row the write's outer product needs, no unsqueeze
    a = None if alpha is None else alpha.clamp_min(_MIN_DECAY)[..., None]  # [B, H, 1]
    if erase is None:  # u = β (v − α S k)
        u = (v - s_k) if a is None else torch.addcmul(v, a, s_k, value=-1.0)
        u.mul_(beta[..., None])
    else:  # u = β v − β^e α S k
        e = erase[..., None] if a is None else erase[..., None] * a
        u = torch.addcmul(v * beta[..., None], e, s_k, value=-1.0)
    if a is not None:
        state.mul_(a[..., None])
    state.addcmul_(u[..., None], k, value=gate_scale)
    return o


def pair_index(buffers: dict[str, torch.Tensor]) -> torch.Tensor:
    """[I ; J] as one int64 index [2·n2] for `decode_features` (quad2 and quad2_lowrank)."""
    return torch.cat((buffers["idx_i"], buffers["idx_j"]))


def decode_features(kind: str, x: torch.Tensor, buffers: dict[str, torch.Tensor],
                    pairs: torch.Tensor | None = None) -> torch.Tensor:
    """φ(x) for a decode step, x: [..., d_h] -> [..., d_φ]; equal to
    `apply_feature_map(kind, x, buffers)` up to float rounding, in fewer ops for quad2.

    With `pairs` (`pair_index(buffers)`) the quadratic maps gather z[I], z[J] by one index
    along dim 1 of 2-D rows — exact, and on CPU ~3× cheaper than the one-hot selector matmul at
    decode sizes (index_select along the last dim of a 4-D tensor takes a slow strided path).
    Rows [N, d_h] in, as the mixer's step passes them, cost no reshapes.
    """
    if kind in ("quad2", "quad2_lowrank") and pairs is not None:
        rows = x if x.dim() == 2 else x.reshape(-1, x.shape[-1])
        z = rows if kind == "quad2" else rows @ buffers["lift"]
        z_i, z_j = z.index_select(1, pairs).chunk(2, dim=-1)
        phi = l2_normalize(torch.cat((rows, z_i * z_j), dim=-1))
        return phi if x.dim() == 2 else phi.view(*x.shape[:-1], -1)
    if kind == "quad2":
        return quad2_features_reference(x, buffers["select"])
    return apply_feature_map(kind, x, buffers)
