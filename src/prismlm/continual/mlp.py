"""A tanh MLP batched over runs, with hand-written gradients (the shared baseline network).

    H1 = tanh(X W1ᵀ + b1), H2 = tanh(H1 W2ᵀ + b2), logits = H2 W3ᵀ + b3,  loss = mean CE
    X: [R, n, d], W1: [R, H, d], W2: [R, H, H], W3: [R, C, H]
Weights start Gaussian with std 1/sqrt(fan_in), biases 0, each run from its own seed.
"""

from __future__ import annotations

import numpy as np
import torch

from .local_rule import fast_tanh_

NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def init_mlp(seeds, sizes: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Parameters for one run per seed; sizes = (d, H, H, C)."""
    out: dict[str, list] = {k: [] for k in NAMES}
    for s in seeds:
        rng = np.random.default_rng(int(s))
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            out[f"W{i + 1}"].append(rng.normal(0, 1 / np.sqrt(a), size=(b, a)))
            out[f"b{i + 1}"].append(np.zeros(b))
    return {k: torch.from_numpy(np.stack(v).astype(np.float32)) for k, v in out.items()}


def forward(p, x):
    """Returns (h1, h2, logits) for x: [R, n, d]."""
    h1 = fast_tanh_(torch.baddbmm(p["b1"].unsqueeze(1), x, p["W1"].transpose(1, 2)))
    h2 = fast_tanh_(torch.baddbmm(p["b2"].unsqueeze(1), h1, p["W2"].transpose(1, 2)))
    return h1, h2, torch.baddbmm(p["b3"].unsqueeze(1), h2, p["W3"].transpose(1, 2))


def _deltas(p, h1, h2, logits, y):
    """Per-sample output-layer-first deltas of the cross-entropy (not divided by n)."""
    g3 = torch.softmax(logits, -1)
    g3.scatter_add_(-1, y.unsqueeze(-1), torch.full_like(g3[..., :1], -1.0))
    g2 = torch.bmm(g3, p["W3"]).mul_(1 - h2 * h2)
    g1 = torch.bmm(g2, p["W2"]).mul_(1 - h1 * h1)
    return g1, g2, g3


def gradients(p, x, y) -> dict[str, torch.Tensor]:
    """Gradient of the mean cross-entropy. x: [R, n, d], y: [R, n] int64."""
    h1, h2, logits = forward(p, x)
    g1, g2, g3 = _deltas(p, h1, h2, logits, y)
    inv = 1.0 / x.shape[1]
    return {
        "W3": torch.bmm(g3.transpose(1, 2), h2).mul_(inv), "b3": g3.mean(1),
        "W2": torch.bmm(g2.transpose(1, 2), h1).mul_(inv), "b2": g2.mean(1),
        "W1": torch.bmm(g1.transpose(1, 2), x).mul_(inv), "b1": g1.mean(1),
    }


def diag_fisher(p, x, y) -> dict[str, torch.Tensor]:
    """Empirical diagonal Fisher: mean over samples of the squared per-sample gradient.

    A per-sample weight gradient is an outer product δ_i a_iᵀ, so its square is δ_i² (a_i²)ᵀ
    and the mean over m samples is (Δ²)ᵀ(A²)/m: one matmul instead of m backward passes.
    """
    h1, h2, logits = forward(p, x)
    g1, g2, g3 = _deltas(p, h1, h2, logits, y)
    inv = 1.0 / x.shape[1]
    out = {}
    for name, g, a in (("3", g3, h2), ("2", g2, h1), ("1", g1, x)):
        gg = g * g
        out["W" + name] = torch.bmm(gg.transpose(1, 2), a * a).mul_(inv)
        out["b" + name] = gg.mean(1)
    return out


def predict(p, x) -> torch.Tensor:
    return forward(p, x)[2].argmax(-1)


def n_params(sizes: tuple[int, ...]) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
