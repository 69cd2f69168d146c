"""SwiGLU feed-forward: W_o (SiLU(W_1 x) ⊙ W_2 x), no biases."""

import torch
import torch.nn.functional as F
from torch import nn

from .decode_weights import decode_weights


def default_ffn_width(d_model: int) -> int:
    """round(8/3 · d / 8) · 8 — 168 for d=64, 344 for d=128, 680 for d=256."""
    return int(round(8 / 3 * d_model / 8)) * 8


class SwiGLU(nn.Module):
    """x: [..., d_model] -> [..., d_model]; hidden width d_ff (default `default_ffn_width`)."""

    def __init__(self, d_model: int, d_ff: int | None = None) -> None:
        super().__init__()
        d_ff = d_ff or default_ffn_width(d_model)
        # W_1 and W_2 fused into one matmul: fewer ops on the per-token decode path.
        self.w12 = nn.Linear(d_model, 2 * d_ff, bias=False)
        self.w_o = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w12(x).chunk(2, dim=-1)
        return self.w_o(F.silu(gate) * up)

    def step(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """One decode row x: [B, d_model], with pre-transposed weights (same maths as forward);
        returns residual + FFN(x) when a residual [B, d_model] is given (the add joins the matmul)."""
        w = decode_weights(self, lambda: {
            "w12": self.w12.weight.t().contiguous(), "w_o": self.w_o.weight.t().contiguous()
        })
        gate, up = (x @ w["w12"]).chunk(2, dim=-1)
        hidden = F.silu(gate) * up
        return hidden @ w["w_o"] if residual is None else torch.addmm(residual, hidden, w["w_o"])
