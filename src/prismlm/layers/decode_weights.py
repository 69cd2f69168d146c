"""Weights re-laid out for single-token decoding, rebuilt whenever a source parameter changes.

For one row x, `x @ Wt` with a contiguous Wt = Wᵀ runs 2–3× faster on CPU than `F.linear(x, W)`,
and fusing several projections into one matrix removes whole ops from the per-token path — which
is what bounds decode latency here (a tiny op costs microseconds, a token's FLOPs barely more).
The cache is keyed on every parameter's storage pointer and version counter, so an optimizer
step, `load_state_dict` or `.to()` invalidates it automatically; it is never saved.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def decode_weights(module: nn.Module, build: Callable[[], dict[str, torch.Tensor]]) -> dict:
    """Return `build()`'s tensors for `module`, recomputing them only when its parameters change."""
    key = tuple((p.data_ptr(), p._version) for p in module.parameters())
    cached = module.__dict__.get("_decode_weights")
    if cached is None or cached[0] != key:
        with torch.no_grad():
            cached = (key, build())
        module.__dict__["_decode_weights"] = cached
    return cached[1]


def transposed_weight(linear_or_embedding: nn.Module) -> torch.Tensor:
    """Cached contiguous `weight.t()` (e.g. the tied LM head Eᵀ: [d_model, vocab])."""
    return decode_weights(
        linear_or_embedding, lambda: {"t": linear_or_embedding.weight.t().contiguous()}
    )["t"]
