"""Parameter-free feature maps φ for the delta path (keys and queries).

All maps act on per-head vectors x: [..., d_h] and return unit vectors [..., d_φ]; their fixed
tensors are buffers, never parameters, so every map has the same trainable-parameter count.

* none:          φ(x) = x                                 d_φ = d_h
* quad2:         φ(x) = l2n([x ; x[I] ⊙ x[J]])            d_φ = d_h + n2
* quad2_lowrank: z = x P, P ~ N(0, 1/d_h) [d_h, r];       d_φ = d_h + r(r+1)/2
                 φ(x) = l2n([x ; z_i z_j for i ≤ j < r])  (all pairs, row-major)
* rand_linear:   φ(x) = l2n(x W), W ~ N(0, 1/d_h)         d_φ = d_h + n2, rank(W) ≤ d_h

quad2's degree-2 monomials lift keys into a space where more of them can be nearly orthogonal,
which is what lets a d_h-dim head store more associations. quad2_lowrank takes every monomial of
a random r-dim projection instead of n2 sampled coordinate pairs (d_φ = 137 at d_h = 32, r = 14).
rand_linear is the control with the same width but no extra rank: it shows the gain comes from
the monomials, not from d_φ. Both quadratic maps share one implementation (`quad2_features`
with an optional `lift` P: quad2 is the case P = I).
"""

from __future__ import annotations

import torch

FEATURE_MAPS = ("none", "quad2", "quad2_lowrank", "rand_linear")
DEFAULT_FEATURE_SEED = 1234
DEFAULT_LOWRANK = 14  # quad2_lowrank's r when feat_rank = 0


def l2_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """x / (‖x‖ + eps) over the last dimension."""
    return x / (torch.linalg.vector_norm(x, dim=-1, keepdim=True) + eps)


def feature_dim(kind: str, d_head: int, n2: int, rank: int = 0) -> int:
    """d_φ for a feature map of the given kind (`rank` is quad2_lowrank's r; 0 = 14)."""
    if kind == "none":
        return d_head
    if kind in ("quad2", "rand_linear"):
        return d_head + n2
    if kind == "quad2_lowrank":
        r = rank or DEFAULT_LOWRANK
        return d_head + r * (r + 1) // 2
    raise ValueError(f"unknown feature map {kind!r}; choose from {FEATURE_MAPS}")


def make_feature_buffers(
    kind: str, d_head: int, n2: int, seed: int = DEFAULT_FEATURE_SEED, rank: int = 0
) -> dict[str, torch.Tensor]:
    """The fixed tensors of a map, drawn from a CPU generator seeded with `seed`.

    quad2: index vectors I, J ∈ {0..d_h−1}^{n2} (int64, drawn I first, then J, with
    replacement). quad2_lowrank: the projection `lift` P = randn(d_h, r)/√d_h and the
    deterministic pair list I ≤ J over {0..r−1} (row-major). rand_linear: W [d_h, d_h + n2].
    none: no tensors.
    """
    feature_dim(kind, d_head, n2, rank)  # validates `kind`
    gen = torch.Generator().manual_seed(seed)
    if kind == "quad2":
        idx_i = torch.randint(0, d_head, (n2,), generator=gen)
        idx_j = torch.randint(0, d_head, (n2,), generator=gen)
        return {"idx_i": idx_i, "idx_j": idx_j, "select": quad2_selector(idx_i, idx_j, d_head)}
    if kind == "quad2_lowrank":
        r = rank or DEFAULT_LOWRANK
        lift = torch.randn(d_head, r, generator=gen) / d_head**0.5
        idx_i, idx_j = torch.triu_indices(r, r)
        return {"lift": lift, "idx_i": idx_i, "idx_j": idx_j, "select": quad2_selector(idx_i, idx_j, r)}
    if kind == "rand_linear":
        return {"proj": torch.randn(d_head, d_head + n2, generator=gen) / d_head**0.5}
    return {}


def quad2_selector(idx_i: torch.Tensor, idx_j: torch.Tensor, width: int) -> torch.Tensor:
    """One-hot matrix P = [E_I | E_J]: [width, 2·n2], so z P = [z[I] | z[J]] for z: [..., width].

    Gathering by a matmul instead of by indexing makes the backward a matmul too (indexing's
    backward is a scatter-add, several times slower on CPU).
    """
    eye = torch.eye(width)
    return torch.cat((eye[:, idx_i], eye[:, idx_j]), dim=1)


def quad2_features_reference(
    x: torch.Tensor, select: torch.Tensor, lift: torch.Tensor | None = None
) -> torch.Tensor:
    """x: [..., d_h] -> l2n([x ; z[..., I] ⊙ z[..., J]]) with z = x lift (z = x without a lift),
    left to autograd. The obviously-correct form `quad2_features` must equal.

    select: `quad2_selector(I, J, width of z)`; lift: [d_h, r] or None.
    """
    z = x if lift is None else x @ lift
    z_i, z_j = (z @ select).chunk(2, dim=-1)
    return l2_normalize(torch.cat((x, z_i * z_j), dim=-1))


def _pair_counts(select: torch.Tensor) -> torch.Tensor:
    """Symmetric C + Cᵀ: [d_h, d_h], C_ab = #{p : I_p = a, J_p = b}, from the one-hot selector."""
    n2 = select.shape[1] // 2
    counts = select[:, :n2] @ select[:, n2:].t()
    return counts + counts.t()


def _quad2_forward(x2: torch.Tensor, select: torch.Tensor, pair_sym: torch.Tensor, lift):
    """x2: [N, d_h] -> (φ [N, d_φ], ‖f‖ [N, 1], r = 1/(‖f‖+eps) [N, 1]) for f = [x ; z_I ⊙ z_J],
    z = x lift (z = x when lift is None).

    ‖f‖² = Σ_a x_a² + Σ_p z_{I_p}² z_{J_p}² = Σ x² + ½ (z²)ᵀ (C + Cᵀ) z² is computed in the narrow
    spaces, so the d_φ-wide tensor is written once: φ = [x r ; (z√r)_I ⊙ (z√r)_J]. (Needs
    |x| ≪ 1e9 so that x⁴ stays finite in fp32; the mixer feeds unit vectors.)
    """
    d_h, n2 = x2.shape[1], select.shape[1] // 2
    sq = x2 * x2
    z = x2 if lift is None else x2 @ lift
    sq_z = sq if lift is None else z * z
    norm = (sq.sum(-1, keepdim=True) + 0.5 * ((sq_z @ pair_sym) * sq_z).sum(-1, keepdim=True)).sqrt()
    r = 1.0 / (norm + 1e-6)
    xs = x2 * r.sqrt()
    phi = torch.empty(x2.shape[0], d_h + n2, dtype=x2.dtype, device=x2.device)
    torch.mul(xs, r.sqrt(), out=phi[:, :d_h])
    zs = xs if lift is None else z * r.sqrt()
    z_i, z_j = (zs @ select).split(n2, dim=-1)
    torch.mul(z_i, z_j, out=phi[:, d_h:])
    return phi, norm, r


class _Quad2(torch.autograd.Function):
    """quad2 (optionally lifted) + l2 normalisation with a hand-written backward."""

    @staticmethod
    def forward(ctx, x2, select, pair_sym, lift):
        phi, norm, r = _quad2_forward(x2, select, pair_sym, lift)
        ctx.save_for_backward(x2, select, pair_sym, lift, phi, norm, r)
        return phi

    @staticmethod
    def backward(ctx, g):
        """With φ = f r, r = 1/(n + eps), n = ‖f‖, J = ∂f/∂x, s = g·φ and z = x L (L = lift, or I):
        ∂L/∂x = r Jᵀg − (s/n) Jᵀφ,  Jᵀg = g_x + [g_m ⊙ z_J | g_m ⊙ z_I] Pᵀ Lᵀ,
        Jᵀφ = r ½∂n²/∂x = r (x + (z ⊙ (C + Cᵀ) z²) Lᵀ)  (P = [E_I | E_J], the selector).
        The only d_φ-wide work is s, one [N, 2·n2] gather matmul, one product and its matmul back.
        """
        x2, select, pair_sym, lift, phi, norm, r = ctx.saved_tensors
        d_h, n2 = x2.shape[1], select.shape[1] // 2
        s = torch.linalg.vecdot(g, phi).unsqueeze(-1)
        swapped = torch.cat((select[:, n2:], select[:, :n2]), dim=1)  # z P' = [z_J | z_I]
        z = x2 if lift is None else x2 @ lift
        z_ji = (z @ swapped).view(-1, 2, n2)
        back = (z_ji * g[:, None, d_h:]).view(-1, 2 * n2) @ select.t()
        if lift is None:
            jt_g = g[:, :d_h] + back
            jt_phi = x2 * (1.0 + (x2 * x2) @ pair_sym) * r
        else:
            jt_g = g[:, :d_h] + back @ lift.t()
            jt_phi = (x2 + (z * ((z * z) @ pair_sym)) @ lift.t()) * r
        coef = s / norm.clamp_min(torch.finfo(norm.dtype).tiny)
        return r * jt_g - coef * jt_phi, None, None, None


def quad2_features(
    x: torch.Tensor, select: torch.Tensor, lift: torch.Tensor | None = None
) -> torch.Tensor:
    """x: [..., d_h] -> l2n([x ; z[..., I] ⊙ z[..., J]]): [..., d_h + n2] (contiguous), with
    z = x lift ([..., r], quad2_lowrank) or z = x (quad2).

    Equal to `quad2_features_reference` in value and gradient, in about a third of the passes
    over the d_φ-wide tensor. select: `quad2_selector(I, J, width of z)`.
    """
    lead, d_h = x.shape[:-1], x.shape[-1]
    x2 = x.reshape(-1, d_h)
    pair_sym = _pair_counts(select)
    if torch.is_grad_enabled() and x.requires_grad:
        phi = _Quad2.apply(x2, select, pair_sym, lift)
    else:
        phi = _quad2_forward(x2, select, pair_sym, lift)[0]
    return phi.view(*lead, phi.shape[-1])


def rand_linear_features(x: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
    """x: [..., d_h] -> l2n(x W): [..., d_φ]."""
    return l2_normalize(x @ proj)


def apply_feature_map(kind: str, x: torch.Tensor, buffers: dict[str, torch.Tensor]) -> torch.Tensor:
    """Apply the map `kind` with its buffers (from `make_feature_buffers`)."""
    if kind == "quad2":
        return quad2_features(x, buffers["select"])
    if kind == "quad2_lowrank":
        return quad2_features(x, buffers["select"], buffers["lift"])
    if kind == "rand_linear":
        return rand_linear_features(x, buffers["proj"])
    if kind == "none":
        return x
    raise ValueError(f"unknown feature map {kind!r}; choose from {FEATURE_MAPS}")
