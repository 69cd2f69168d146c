"""Parameter matching between Prizma-Seq and the Transformer baseline.

Counts are taken on the meta device, so matching a model costs no memory and no init time.
"""

from __future__ import annotations

import dataclasses

import torch

from .base import build_model
from .prizma_seq import PrizmaSeqConfig
from .transformer import TransformerConfig


def count_parameters(config) -> int:
    """Trainable parameters of the model any registered config builds (tied weights counted once)."""
    with torch.device("meta"):
        return build_model(config).num_parameters()


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



def match_ffn_width(base, target: int):
    """`base` (any config with a `d_ff` field) with the d_ff, a multiple of 8, whose parameter
    count is closest to `target`. Counts are affine in d_ff, so two probes locate it."""
    p0 = count_parameters(dataclasses.replace(base, d_ff=8))
    per_unit = (count_parameters(dataclasses.replace(base, d_ff=16)) - p0) / 8
    guess = int((8 + (target - p0) / per_unit) // 8) * 8
    candidates = {max(8, guess), max(8, guess + 8)}
    def miss(d_ff: int) -> int:
        return abs(count_parameters(dataclasses.replace(base, d_ff=d_ff)) - target)

    return dataclasses.replace(base, d_ff=min(candidates, key=miss))
