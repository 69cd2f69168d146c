"""Parameter-free feature maps φ for the delta path (keys and queries).

All maps act on per-head vectors x: [..., d_h] and return unit vectors [..., d_φ]; their fixed
tensors are buffers, never parameters, so every map has the same trainable-parameter count.

* none:        φ(x) = x                                   d_φ = d_h
* quad2:       φ(x) = l2n([x ; x[I] ⊙ x[J]])              d_φ = d_h + n2
* rand_linear: φ(x) = l2n(x W), W ~ N(0, 1/d_h)           d_φ = d_h + n2, rank(W) ≤ d_h

quad2's degree-2 monomials lift keys into a space where more of them can be nearly orthogonal,
which is what lets a d_h-dim head store more associations. rand_linear is the control with the
same width but no extra rank: it shows the gain comes from the monomials, not from d_φ.
"""

from __future__ import annotations

import torch

FEATURE_MAPS = ("none", "quad2", "rand_linear")
DEFAULT_FEATURE_SEED = 1234


def l2_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """x / (‖x‖ + eps) over the last dimension."""
    return x / (torch.linalg.vector_norm(x, dim=-1, keepdim=True) + eps)


def feature_dim(kind: str, d_head: int, n2: int) -> int:
    """d_φ for a feature map of the given kind."""
    if kind == "none":
        return d_head
    if kind in ("quad2", "rand_linear"):
        return d_head + n2
    raise ValueError(f"unknown feature map {kind!r}; choose from {FEATURE_MAPS}")


def make_feature_buffers(
    kind: str, d_head: int, n2: int, seed: int = DEFAULT_FEATURE_SEED
) -> dict[str, torch.Tensor]:
    """The fixed tensors of a map, drawn from a CPU generator seeded with `seed`.

    quad2: index vectors I, J ∈ {0..d_h−1}^{n2} (int64, drawn I first, then J, with
    replacement). rand_linear: W [d_h, d_h + n2]. none: no tensors.
    """
    feature_dim(kind, d_head, n2)  # validates `kind`
    gen = torch.Generator().manual_seed(seed)
    if kind == "quad2":
        idx_i = torch.randint(0, d_head, (n2,), generator=gen)
        idx_j = torch.randint(0, d_head, (n2,), generator=gen)
        return {"idx_i": idx_i, "idx_j": idx_j, "select": quad2_selector(idx_i, idx_j, d_head)}
    if kind == "rand_linear":
        return {"proj": torch.randn(d_head, d_head + n2, generator=gen) / d_head**0.5}
    return {}


def quad2_selector(idx_i: torch.Tensor, idx_j: torch.Tensor, d_head: int) -> torch.Tensor:
    """One-hot matrix P = [E_I | E_J]: [d_h, 2·n2], so x P = [x[I] | x[J]].

    Gathering by a matmul instead of by indexing makes the backward a matmul too (indexing's
    backward is a scatter-add, several times slower on CPU).
    """
    eye = torch.eye(d_head)
    return torch.cat((eye[:, idx_i], eye[:, idx_j]), dim=1)


def quad2_features(x: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """x: [..., d_h] -> l2n([x ; x[..., I] ⊙ x[..., J]]): [..., d_h + n2].

    select: `quad2_selector(I, J, d_h)`.
    """
    x_i, x_j = (x @ select).chunk(2, dim=-1)
    return l2_normalize(torch.cat((x, x_i * x_j), dim=-1))


def rand_linear_features(x: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
    """x: [..., d_h] -> l2n(x W): [..., d_φ]."""
    return l2_normalize(x @ proj)


def apply_feature_map(kind: str, x: torch.Tensor, buffers: dict[str, torch.Tensor]) -> torch.Tensor:
    """Apply the map `kind` with its buffers (from `make_feature_buffers`)."""
    if kind == "quad2":
        return quad2_features(x, buffers["select"])
    if kind == "rand_linear":
        return rand_linear_features(x, buffers["proj"])
    if kind == "none":
        return x
    raise ValueError(f"unknown feature map {kind!r}; choose from {FEATURE_MAPS}")
