"""A tuned decoder-only Transformer baseline: pre-norm RMSNorm, RoPE attention, SwiGLU, tied head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from ..layers.attention import CausalSelfAttention, KVCache
from ..layers.init import init_linear_and_embedding_
from ..layers.norm import RMSNorm
from ..layers.swiglu import SwiGLU
from .base import SequenceLM, register_model
from .config import require_lm_shape
from .state import DecodeState

DECODE_HEADROOM = 256  # cache positions allocated beyond the prompt (then capacity doubles)


@dataclass
class TransformerConfig:
    vocab_size: int
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int | None = None  # None: round(8/3 · d / 8) · 8
    max_len: int = 4096  # longest sequence (rotary table size)
    rope_base: float = 10000.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        require_lm_shape(self)
        require(
            (self.d_model // self.n_heads) % 2 == 0, "d_model",
            f"head dim d_model/n_heads = {self.d_model // self.n_heads} must be even for RoPE",
        )
        require(0.0 <= self.dropout < 1.0, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class TransformerState(DecodeState):
    """One `KVCache` per layer: num_floats grows linearly with `position`."""

    caches: list[KVCache]

    @property
    def position(self) -> int:
        return self.caches[0].length

    @property
    def batch_size(self) -> int:
        return self.caches[0].k.shape[0]

    def apply(self, fn) -> None:
        for cache in self.caches:
            cache.apply(fn)

    def num_floats(self) -> int:
        """Keys and values of the cached positions only (not the spare capacity)."""
        return sum(c.num_floats() for c in self.caches)


class TransformerBlock(nn.Module):
    """h: [B, T, d] -> h + Attn(RMSNorm(h)), then + SwiGLU(RMSNorm(·)); `step` extends a KV cache."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(cfg.d_model), RMSNorm(cfg.d_model)
        self.attn = CausalSelfAttention(
            cfg.d_model, cfg.n_heads, cfg.max_len, cfg.rope_base, cfg.dropout
        )
        self.ffn = SwiGLU(cfg.d_model, cfg.d_ff)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, h: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        h = h + self.drop(self.attn(self.norm1(h), cache))
        return h + self.drop(self.ffn(self.norm2(h)))

    def step(self, h: torch.Tensor, cache: KVCache) -> torch.Tensor:
        h = self.attn.step(self.norm1(h), cache, residual=h)
        return self.ffn.step(self.norm2(h), residual=h)


@register_model
class TransformerLM(SequenceLM):
    """logits = RMSNorm(blocks(E[tokens])) · Eᵀ. Decoding keeps a KV cache (memory grows with n)."""

    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model)
        init_linear_and_embedding_(self)

    def forward(self, input_ids: torch.Tensor, return_aux: bool = False):
        """input_ids: [B, T] -> logits [B, T, V] (and a zero auxiliary loss if return_aux)."""
        self.check_input_ids(input_ids, self.config.max_len)
        h = self.drop(self.embed(input_ids))
        for block in self.blocks:
            h = block(h)
        logits = self.tied_head(self.norm(h))
        return (logits, logits.new_zeros(())) if return_aux else logits

    def init_state(
        self, batch_size: int, device=None, capacity: int = DECODE_HEADROOM
    ) -> TransformerState:
        """Empty caches with room for `capacity` positions (capped at max_len) before growing."""
        self.check_batch_size(batch_size)
        device = device or self.embed.weight.device
        dtype = self.embed.weight.dtype
        c = self.config
        capacity = max(1, min(capacity, c.max_len))
        return TransformerState(
            [KVCache(batch_size, c.n_heads, c.d_model // c.n_heads, device, dtype, capacity)
             for _ in range(c.n_layers)]
        )

    @torch.no_grad()
    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, TransformerState]:
        """Parallel prefill: one forward pass over the prompt that also fills the KV caches."""
        self.check_input_ids(input_ids, self.config.max_len)
        # Room for the prompt and DECODE_HEADROOM more tokens: no cache growth in the first steps.
        state = self.init_state(
            input_ids.shape[0], input_ids.device, input_ids.shape[1] + DECODE_HEADROOM
        )
        h = self.embed(input_ids)
        for block, cache in zip(self.blocks, state.caches, strict=True):
            h = block(h, cache)
        return self.tied_head(self.norm(h[:, -1])), state

    def _step(self, token: torch.Tensor, state: TransformerState):
        """token: [B] -> (logits [B, V], state); the caches are extended in place."""
        if state.position >= self.config.max_len:
            raise ValueError(f"decode position {state.position} exceeds max_len {self.config.max_len}")
        h = self.embed(token)
        for block, cache in zip(self.blocks, state.caches, strict=True):
            h = block.step(h, cache)
        return self.tied_head(self.norm(h), decode=True), state
