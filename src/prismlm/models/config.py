"""The shape checks every language-model config shares."""

from __future__ import annotations

from typing import Any

from ..config import require


def require_lm_shape(config: Any) -> None:
    """Checks every language-model config shares: vocab_size, d_model, n_layers, n_heads
    (dividing d_model), d_ff (None or ≥ 1) and max_len."""
    for name, low in (("vocab_size", 2), ("d_model", 1), ("n_layers", 1), ("n_heads", 1), ("max_len", 1)):
        value = getattr(config, name)
        require(value >= low, name, f"must be >= {low}, got {value}")
    require(
        config.d_model % config.n_heads == 0, "n_heads",
        f"d_model {config.d_model} is not divisible by n_heads {config.n_heads}",
    )
    require(config.d_ff is None or config.d_ff >= 1, "d_ff", f"must be >= 1, got {config.d_ff}")
