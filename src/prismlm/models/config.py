"""The checks every language-model config shares: field types, and the shape fields it has."""

from __future__ import annotations

from typing import Any

from ..config import require, require_field_types


def require_lm_shape(config: Any) -> None:
    """Checks every language-model config shares, for the fields it has: annotated types (no 5.5
    layers, no NaN), vocab_size ≥ 2, d_model / n_layers / n_heads / max_len ≥ 1, n_heads dividing
    d_model, d_ff None or ≥ 1, norm_eps > 0."""
    require_field_types(config)
    for name, low in (("vocab_size", 2), ("d_model", 1), ("n_layers", 1), ("n_heads", 1), ("max_len", 1)):
        value = getattr(config, name, None)
        require(value is None or value >= low, name, f"must be >= {low}, got {value}")
    if hasattr(config, "n_heads"):
        require(
            config.d_model % config.n_heads == 0, "n_heads",
            f"d_model {config.d_model} is not divisible by n_heads {config.n_heads}",
        )
    d_ff = getattr(config, "d_ff", None)
    require(d_ff is None or d_ff >= 1, "d_ff", f"must be >= 1, got {d_ff}")
    eps = getattr(config, "norm_eps", None)
    require(eps is None or eps > 0, "norm_eps", f"must be > 0, got {eps}")
