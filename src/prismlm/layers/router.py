"""Polymorphic router: real top-k over heterogeneous experts, ε-soft straight-through, load balance.

    x' = [x ; mean_slots(tape)] ∈ R^{d_model + d_mem},  logits = W x' + b,  p_soft = softmax(logits)
    mask = top-k(logits);  p_sel = p_soft·mask / Σ p_soft·mask
    p_st = p_sel + p_soft − stopgrad(p_soft)                     (straight-through)
    w = ((1 − ε) p_st + ε p_soft) ⊙ mask                            (ε-soft, ε = 0.05)

Forward value: w_e = (1 − ε) p_sel_e + ε p_soft_e on the k selected experts and exactly 0 on the
others, so only k experts are evaluated per token (the reference keeps the ε·p_soft mass on the
unselected experts, which forces a dense evaluation of every expert). Backward: ∂w/∂logits flows
through p_soft for every logit (softmax Jacobian), so the router learns even at k = 1 where p_sel
is the constant 1.

Load balance (Switch-style): L = E · Σ_e f_e P_e, f_e = fraction of tokens whose top-k contains e,
P_e = mean p_soft_e. For sharp top-1 routing (P = f) L = E Σ f_e² ≥ 1, with equality only at
uniform routing (Cauchy–Schwarz); uniform soft routing gives L = k for any k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Routing:
    """Routing decision for N tokens over E experts.

    weights: [N, E] (zero off the top-k); mask: [N, E] bool (exactly k True per row);
    probs: [N, E] soft probabilities; balance_loss: scalar.
    """

    weights: torch.Tensor
    mask: torch.Tensor
    probs: torch.Tensor
    balance_loss: torch.Tensor


def top_k_route(logits: torch.Tensor, k: int, epsilon: float = 0.05) -> Routing:
    """Route N tokens: logits [N, E] -> `Routing` (see module docstring for the equations)."""
    n_exp = logits.shape[-1]
    if not 1 <= k <= n_exp:
        raise ValueError(f"top-k must be in [1, {n_exp}], got {k}")
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
    p_soft = torch.softmax(logits, dim=-1)
    idx = logits.topk(k, dim=-1).indices
    mask = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, idx, True)
    maskf = mask.to(logits.dtype)
    p_sel = p_soft * maskf
    p_sel = p_sel / p_sel.sum(-1, keepdim=True)
    p_st = p_sel + (p_soft - p_soft.detach())
    weights = ((1 - epsilon) * p_st + epsilon * p_soft) * maskf
    return Routing(weights, mask, p_soft, load_balance_loss(mask, p_soft))


def load_balance_loss(mask: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """E · Σ_e f_e P_e. mask: [N, E] bool (top-k membership), probs: [N, E] -> scalar."""
    n_exp = probs.shape[-1]
    frac = mask.to(probs.dtype).reshape(-1, n_exp).mean(0)
    mean_p = probs.reshape(-1, n_exp).mean(0)
    return n_exp * (frac * mean_p).sum()


class PolymorphicRouter(nn.Module):
    """[x ; tape summary] -> `Routing`. x: [N, d_model], tape_summary: [N, d_mem]."""

    def __init__(
        self, d_model: int, d_mem: int, num_experts: int, top_k: int = 1, epsilon: float = 0.05
    ) -> None:
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k={top_k} must be in [1, num_experts={num_experts}]")
        self.top_k, self.epsilon = top_k, epsilon
        self.proj = nn.Linear(d_model + d_mem, num_experts)

    def forward(self, x: torch.Tensor, tape_summary: torch.Tensor) -> Routing:
        logits = self.proj(torch.cat([x, tape_summary], dim=-1))
        return top_k_route(logits, self.top_k, self.epsilon)
