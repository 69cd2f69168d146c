"""Symbolic expert: six differentiable primitives chosen per token.

Per token x ∈ R^d: three argument vectors a1, a2, a3 = split(W_arg x) (each R^d), a distribution
p = softmax(W_p x) over the primitives, made a straight-through one-hot of its argmax in the
forward pass (soft gradient), and output W_out Σ_i p_i prim_i(a1, a2, a3):

    compare(a1)        = cos(first half of a1, second half) broadcast to d
    gate(a1, a2, a3)   = σ(a2) ⊙ a1 + (1 − σ(a2)) ⊙ a3
    select(a1, a2)     = Σ_j softmax(a2)_j a1_j broadcast to d
    threshold(a1, a2)  = a1 ⊙ σ(5 (a1 − a2))
    count(a1)          = mean_j σ(a1_j) broadcast to d
    shift(a1)          = a1 rolled cyclically by one feature

Parameters: d·3d + 3d (args) + d·6 + 6 (selector) + d·d + d (out). Pointwise in time (causal).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .experts import Expert, ExpertContext


def prim_compare(a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor) -> torch.Tensor:
    half = a1.shape[-1] // 2
    cos = F.cosine_similarity(a1[..., :half], a1[..., half : 2 * half], dim=-1, eps=1e-6)
    return cos[..., None].expand_as(a1)


def prim_gate(a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(a2)
    return s * a1 + (1 - s) * a3


def prim_select(a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor) -> torch.Tensor:
    return (torch.softmax(a2, dim=-1) * a1).sum(-1, keepdim=True).expand_as(a1)


def prim_threshold(a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor) -> torch.Tensor:
    return a1 * torch.sigmoid(5.0 * (a1 - a2))


def prim_count(a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(a1).mean(-1, keepdim=True).expand_as(a1)


def prim_shift(a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor) -> torch.Tensor:
    return torch.roll(a1, shifts=1, dims=-1)


PRIMITIVES = {
    "compare": prim_compare,
    "gate": prim_gate,
    "select": prim_select,
    "threshold": prim_threshold,
    "count": prim_count,
    "shift": prim_shift,
}


# The primitives whose output is a full vector; compare, select and count are one number per
# token broadcast to d. PRIMITIVES' order is what the selector's logits index.
_VECTOR = ("gate", "threshold", "shift")


def mix_primitives_reference(
    p: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor
) -> torch.Tensor:
    """Σ_i p_i prim_i(a1, a2, a3) by stacking all six outputs. p: [N, 6], a*: [N, d] -> [N, d]."""
    outs = torch.stack([f(a1, a2, a3) for f in PRIMITIVES.values()], dim=-2)  # [N, 6, d]
    return (p[..., None] * outs).sum(-2)


def mix_primitives(p: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor) -> torch.Tensor:
    """`mix_primitives_reference` without the [N, 6, d] stack: the three broadcast primitives
    are mixed as numbers ([N, 1]) and added once, the three vector ones are summed directly.
    Every primitive is still evaluated, so ∂/∂p reaches all six (the straight-through rule)."""
    names = list(PRIMITIVES)
    col = {n: p[..., names.index(n), None] for n in names}
    half = a1.shape[-1] // 2
    cos = F.cosine_similarity(a1[..., :half], a1[..., half : 2 * half], dim=-1, eps=1e-6)
    scalar = (
        col["compare"] * cos[..., None]
        + col["select"] * (torch.softmax(a2, dim=-1) * a1).sum(-1, keepdim=True)
        + col["count"] * torch.sigmoid(a1).mean(-1, keepdim=True)
    )
    gate, threshold, shift = (col[n] * PRIMITIVES[n](a1, a2, a3) for n in _VECTOR)
    return gate + threshold + shift + scalar


def straight_through_one_hot(logits: torch.Tensor) -> torch.Tensor:
    """One-hot of the argmax in the forward pass, softmax gradient in the backward pass."""
    soft = torch.softmax(logits, dim=-1)
    hard = F.one_hot(logits.argmax(-1), logits.shape[-1]).to(soft.dtype)
    return hard + (soft - soft.detach())


class SymbolicExpert(Expert):
    """x: [N, d_model] -> [N, d_model]. `last_choice` holds the chosen primitive index: [N]."""

    kind = "symbolic"

    def __init__(self, d_model: int, out_bias: bool = True) -> None:
        super().__init__()
        if d_model < 2:
            raise ValueError(f"d_model must be >= 2 for the compare primitive, got {d_model}")
        self.w_arg = nn.Linear(d_model, 3 * d_model)
        self.w_sel = nn.Linear(d_model, len(PRIMITIVES))
        self.w_out = nn.Linear(d_model, d_model, bias=out_bias)  # the reference has none
        self.last_choice: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, ctx: ExpertContext | None = None) -> torch.Tensor:
        a1, a2, a3 = self.w_arg(x).chunk(3, dim=-1)
        logits = self.w_sel(x)
        p = straight_through_one_hot(logits)
        self.last_choice = logits.argmax(-1).detach()
        return self.w_out(mix_primitives(p, a1, a2, a3))
