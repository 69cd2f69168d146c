"""Prizma-Seq: a pre-norm LM whose mixer is the quad2 rectangular delta-state mixer.

    h_0 = E[tokens] (+ P[positions] if learned_pos)
    h  += Mixer(RMSNorm_1(h));  h += SwiGLU(RMSNorm_2(h))        per block
    logits = RMSNorm_f(h) · Eᵀ                                      head tied to E

The FFN half is the Transformer baseline's, so only the mixer differs. Decoding carries a
constant-size state per layer (d_h × d_φ per head, a w-slot window ring and a k_c−1 conv ring):
memory does not grow with the context length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from ..layers.init import init_linear_and_embedding_
from ..layers.norm import RMSNorm
from ..layers.prizma_mixer import WRITE_MODES, MixerState, PrizmaMixer
from ..layers.swiglu import SwiGLU
from ..ops.feature_maps import FEATURE_MAPS
from .base import SequenceLM, register_model
from .config import require_lm_shape
from .state import DecodeState


@dataclass
class PrizmaSeqConfig:
    vocab_size: int
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int | None = None  # None: round(8/3 · d / 8) · 8
    feat_map: str = "quad2"  # "quad2" | "quad2_lowrank" | "rand_linear" | "none"
    feat_n2: int = 224  # monomials (quad2) / extra width (rand_linear): d_φ = d_h + feat_n2
    feat_rank: int = 0  # quad2_lowrank's r (0 = 14): d_φ = d_h + r(r+1)/2
    feat_seed: int = 1234
    window: int = 16
    use_window: bool = True
    gated: bool = False  # data-dependent decay α = 0.5 + 0.5 σ(W_α x); off = pure DeltaNet
    short_conv: int = 4  # 0 disables the short convolution
    learned_pos: bool = False  # learned absolute positions (limits length to max_len)
    max_len: int = 4096  # only enforced when learned_pos
    chunk_size: int = 64
    beta_cap: float = 0.99
    backend: str = "auto"  # delta-rule backend: auto | chunked | recurrent | fla
    # The v2 levers, all off by default (the off model is bit-identical to the model without them).
    write_mode: str = "delta"  # "delta" | "additive" (no erase: u = β v)
    decoupled_gate: bool = False  # own erase strength β^e = β_cap σ(W_e x) (needs write_mode delta)
    out_gate: bool = False  # o ⊙ σ(W_g RMSNorm_1(h)) before W_o
    state_norm: bool = False  # RMSNorm over d_h of the state read o_Δ (gain shared by heads)

    def __post_init__(self) -> None:
        require_lm_shape(self)
        require(
            self.feat_map in FEATURE_MAPS, "feat_map",
            f"unknown feature map {self.feat_map!r}; choose from {FEATURE_MAPS}",
        )
        require(
            self.feat_map == "none" or self.feat_n2 >= 1, "feat_n2",
            f"must be >= 1 for {self.feat_map}, got {self.feat_n2}",
        )
        require(self.feat_rank >= 0, "feat_rank", f"must be >= 0, got {self.feat_rank}")
        require(
            self.feat_rank == 0 or self.feat_map == "quad2_lowrank", "feat_rank",
            f"only applies to feat_map='quad2_lowrank' (got feat_map={self.feat_map!r})",
        )
        require(
            self.write_mode in WRITE_MODES, "write_mode",
            f"unknown write mode {self.write_mode!r}; choose from {WRITE_MODES}",
        )
        require(
            not (self.decoupled_gate and self.write_mode == "additive"), "decoupled_gate",
            "gates the erase, which write_mode='additive' does not have",
        )
        require(self.window >= 1, "window", f"must be >= 1, got {self.window}")
        require(self.short_conv >= 0, "short_conv", f"must be >= 0, got {self.short_conv}")
        require(self.chunk_size >= 1, "chunk_size", f"must be >= 1, got {self.chunk_size}")
        require(0.0 < self.beta_cap <= 1.0, "beta_cap", f"must be in (0, 1], got {self.beta_cap}")
        require(
            self.backend in ("auto", "chunked", "recurrent", "fla"), "backend",
            f"unknown backend {self.backend!r}",
        )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass
class PrizmaSeqState(DecodeState):
    """One `MixerState` per layer; every layer has consumed the same `position` tokens."""

    layers: list[MixerState]

    @property
    def position(self) -> int:
        return self.layers[0].position

    @property
    def batch_size(self) -> int:
        return self.layers[0].S.shape[0]

    def apply(self, fn) -> None:
        for layer in self.layers:
            layer.apply(fn)


class PrizmaSeqBlock(nn.Module):
    """h: [B, T, d] -> h + Mixer(RMSNorm(h)), then + SwiGLU(RMSNorm(·)); `step` runs one row [B, d]."""

    def __init__(self, cfg: PrizmaSeqConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(cfg.d_model), RMSNorm(cfg.d_model)
        self.mixer = PrizmaMixer(
            cfg.d_model, cfg.n_heads, cfg.feat_map, cfg.feat_n2, cfg.feat_seed, cfg.window,
            cfg.use_window, cfg.gated, cfg.short_conv, cfg.chunk_size, cfg.beta_cap, cfg.backend,
            feat_rank=cfg.feat_rank, write_mode=cfg.write_mode, decoupled_gate=cfg.decoupled_gate,
            out_gate=cfg.out_gate, state_norm=cfg.state_norm,
        )
        self.ffn = SwiGLU(cfg.d_model, cfg.d_ff)

    def forward(self, h: torch.Tensor, return_state: bool = False):
        mixed = self.mixer(self.norm1(h), return_state)
        mixed, state = mixed if return_state else (mixed, None)
        h = h + mixed
        h = h + self.ffn(self.norm2(h))
        return (h, state) if return_state else h

    def step(self, h: torch.Tensor, state: MixerState) -> torch.Tensor:
        h = self.mixer.step(self.norm1(h), state, residual=h)
        return self.ffn.step(self.norm2(h), residual=h)


@register_model
class PrizmaSeqLM(SequenceLM):
    """input_ids [B, T] -> logits [B, T, V] (module docstring for the equations); decodes with a
    constant-size `PrizmaSeqState`, and `prefill` is the parallel chunked forward."""

    config_class = PrizmaSeqConfig

    def __init__(self, config: PrizmaSeqConfig) -> None:
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_embed = (
            nn.Embedding(config.max_len, config.d_model) if config.learned_pos else None
        )
        self.blocks = nn.ModuleList(PrizmaSeqBlock(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model)
        init_linear_and_embedding_(self)

    def _embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        self.check_input_ids(input_ids, self.config.max_len if self.config.learned_pos else None)
        h = self.embed(input_ids)
        if self.pos_embed is not None:
            h = h + self.pos_embed.weight[: input_ids.shape[1]]
        return h

    def forward(self, input_ids: torch.Tensor, return_aux: bool = False):
        """input_ids: [B, T] -> logits [B, T, V] (and a zero auxiliary loss if return_aux)."""
        h = self._embed(input_ids)
        for block in self.blocks:
            h = block(h)
        logits = self.tied_head(self.norm(h))
        return (logits, logits.new_zeros(())) if return_aux else logits

    @torch.no_grad()
    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, PrizmaSeqState]:
        """Parallel prefill: the chunked forward over the prompt also yields the decode state."""
        h, states = self._embed(input_ids), []
        for block in self.blocks:
            h, state = block(h, return_state=True)
            states.append(state)
        return self.tied_head(self.norm(h[:, -1])), PrizmaSeqState(states)

    def init_state(self, batch_size: int, device=None) -> PrizmaSeqState:
        self.check_batch_size(batch_size)
        device = device or self.embed.weight.device
        dtype = self.embed.weight.dtype
        return PrizmaSeqState([b.mixer.init_state(batch_size, device, dtype) for b in self.blocks])

    def _step(self, token: torch.Tensor, state: PrizmaSeqState):
        """token: [B] -> (logits [B, V], state); the state is updated in place, size constant."""
        h = self.embed(token)
        if self.pos_embed is not None:
            if state.position >= self.config.max_len:
                raise ValueError(
                    f"decode position {state.position} exceeds max_len {self.config.max_len}"
                )
            h = h + self.pos_embed.weight[state.position]
        for block, layer_state in zip(self.blocks, state.layers, strict=True):
            h = block.step(h, layer_state)
        return self.tied_head(self.norm(h), decode=True), state
