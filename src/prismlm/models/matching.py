"""Parameter matching between Prizma-Seq and the Transformer baseline.

Counts are taken on the meta device, so matching a model costs no memory and no init time.
"""

from __future__ import annotations

import dataclasses

import torch

from .prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from .transformer import TransformerConfig, TransformerLM


def count_parameters(config: PrizmaSeqConfig | TransformerConfig) -> int:
    """Trainable parameters of the model a config builds (tied weights counted once)."""
    model_cls = PrizmaSeqLM if isinstance(config, PrizmaSeqConfig) else TransformerLM
    with torch.device("meta"):
        return model_cls(config).num_parameters()


def match_transformer(
    prizma: PrizmaSeqConfig, max_len: int | None = None, **overrides
) -> TransformerConfig:
    """The Transformer with Prizma's d_model, layers and heads whose FFN width d_ff (a multiple
    of 8) brings its parameter count closest to the Prizma model's."""
    target = count_parameters(prizma)
    base = TransformerConfig(
        vocab_size=prizma.vocab_size, d_model=prizma.d_model, n_layers=prizma.n_layers,
        n_heads=prizma.n_heads, max_len=max_len or prizma.max_len, **overrides,
    )
    # Parameters are affine in d_ff: solve once, then check the two nearest multiples of 8.
    p0 = count_parameters(dataclasses.replace(base, d_ff=8))
    per_unit = (count_parameters(dataclasses.replace(base, d_ff=16)) - p0) / 8
    guess = 8 + (target - p0) / per_unit
    candidates = {max(8, int(guess // 8) * 8), max(8, int(guess // 8) * 8 + 8)}
    best = min(candidates, key=lambda f: abs(count_parameters(dataclasses.replace(base, d_ff=f)) - target))
    return dataclasses.replace(base, d_ff=best)


def transformer_width_for_params(
    target: int, vocab_size: int, n_layers: int, n_heads: int, max_len: int = 4096
) -> TransformerConfig:
    """The Transformer (default FFN ratio) whose width d_model, a multiple of 2·n_heads, gives
    the parameter count closest to `target`."""
    step = 2 * n_heads
    best, best_gap = None, None
    d = step
    while True:
        cfg = TransformerConfig(vocab_size, d, n_layers, n_heads, max_len=max_len)
        gap = count_parameters(cfg) - target
        if best_gap is None or abs(gap) < abs(best_gap):
            best, best_gap = cfg, gap
        if gap > 0:
            return best
        d += step
