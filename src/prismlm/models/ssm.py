"""SSM baseline: a diagonal linear time-invariant recurrence LM (the spec's §5 comparison model).

Per layer, with u, z = split(W_in RMSNorm(x)) ∈ R^{d_inner}:

    h_t[c, n] = γ[c, n] h_{t−1}[c, n] + (1 − γ[c, n]) B[c, n] u_t[c],   γ = exp(−softplus(Λ))
    y_t[c]    = Σ_n C[c, n] h_t[c, n] + D[c] u_t[c]
    x ← x + W_out (y ⊙ SiLU(z));  x ← x + SwiGLU(RMSNorm(x))   (MLP optional)

The per-channel decay −softplus(Λ) < 0 is learned (Λ initialised so half-lives span 1…256
tokens). The scan is `ops.tape_scan` (the same stable two-level diagonal scan as PRISM's tape);
decoding keeps h: [B, d_inner, d_state] per layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..layers.init import init_linear_and_embedding_
from ..layers.norm import RMSNorm
from ..layers.swiglu import SwiGLU
from ..ops.tape_scan import tape_scan
from .base import SequenceLM, register_model
from .state import DecodeState


@dataclass
class SSMConfig:
    """vocab_size, width d_model, n_layers, d_state per channel, d_inner = expand·d_model."""

    vocab_size: int = 256
    d_model: int = 64
    n_layers: int = 2
    d_state: int = 8
    expand: int = 1
    mlp: bool = True
    norm_eps: float = 1e-6
    init_std: float = 0.02
    max_len: int = 1 << 20

    def __post_init__(self) -> None:
        require(self.vocab_size >= 2, "vocab_size", f"must be >= 2, got {self.vocab_size}")
        require(self.d_model >= 1, "d_model", f"must be >= 1, got {self.d_model}")
        require(self.n_layers >= 1, "n_layers", f"must be >= 1, got {self.n_layers}")
        require(self.d_state >= 1, "d_state", f"must be >= 1, got {self.d_state}")
        require(self.expand >= 1, "expand", f"must be >= 1, got {self.expand}")
        require(self.init_std > 0, "init_std", "must be > 0")
        require(self.max_len >= 1, "max_len", "must be >= 1")


@dataclass
class SSMState(DecodeState):
    """h: one recurrence state [B, d_inner, d_state] per layer (constant size)."""

    h: list[torch.Tensor]
    position: int = 0

    @property
    def batch_size(self) -> int:
        return self.h[0].shape[0]

    def apply(self, fn) -> None:
        self.h = [fn(t) for t in self.h]


class DiagonalSSM(nn.Module):
    """x: [B, T, d_model], h0: [B, d_inner, d_state] or None -> (y [B, T, d_model], h_last)."""

    def __init__(self, d_model: int, d_inner: int, d_state: int) -> None:
        super().__init__()
        self.w_in = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.w_out = nn.Linear(d_inner, d_model, bias=False)
        # Half-lives log-spaced over 1..256 tokens: softplus(Λ) = Δ = ln 2 / half-life.
        rates = math.log(2.0) / torch.logspace(0, math.log10(256), d_state)
        self.decay_raw = nn.Parameter(torch.log(torch.expm1(rates)).repeat(d_inner, 1))
        self.b = nn.Parameter(torch.ones(d_inner, d_state))
        self.c = nn.Parameter(torch.randn(d_inner, d_state) / math.sqrt(d_state))
        self.d = nn.Parameter(torch.ones(d_inner))

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        u, z = self.w_in(x).chunk(2, dim=-1)
        gamma = torch.exp(-F.softplus(self.decay_raw))  # [d_inner, d_state]
        drive = ((1 - gamma) * self.b) * u[..., None]  # [B, T, d_inner, d_state]
        m0 = torch.zeros_like(drive[:, 0]) if h0 is None else h0
        h = tape_scan(gamma.expand_as(drive), drive, m0)
        y = (h * self.c).sum(-1) + self.d * u
        return self.w_out(y * F.silu(z)), h[:, -1]


class SSMBlock(nn.Module):
    """x: [B, T, d], h0 -> (x + SSM(RMSNorm(x)) [+ SwiGLU MLP], h_last [B, d_inner, d_state])."""

    def __init__(self, c: SSMConfig) -> None:
        super().__init__()
        self.norm1 = RMSNorm(c.d_model, c.norm_eps)
        self.ssm = DiagonalSSM(c.d_model, c.expand * c.d_model, c.d_state)
        self.mlp = nn.Sequential(RMSNorm(c.d_model, c.norm_eps), SwiGLU(c.d_model, 2 * c.d_model))
        if not c.mlp:
            self.mlp = None

    def forward(self, x, h0=None):
        y, h = self.ssm(self.norm1(x), h0)
        x = x + y
        if self.mlp is not None:
            x = x + self.mlp(x)
        return x, h


@register_model
class SSMLM(SequenceLM):
    """input_ids [B, T] -> logits [B, T, V]; tied embedding head; aux loss 0."""

    config_class = SSMConfig

    def __init__(self, config: SSMConfig) -> None:
        super().__init__(config)
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.blocks = nn.ModuleList(SSMBlock(c) for _ in range(c.n_layers))
        self.norm = RMSNorm(c.d_model, c.norm_eps)
        init_linear_and_embedding_(self, c.init_std)

    def _run(self, x, states):
        new = []
        for i, blk in enumerate(self.blocks):
            x, h = blk(x, None if states is None else states[i])
            new.append(h)
        return self.tied_head(self.norm(x)), new

    def forward(self, input_ids: torch.Tensor, return_aux: bool = False):
        self.check_input_ids(input_ids, self.config.max_len)
        logits, _ = self._run(self.embed(input_ids), None)
        return (logits, logits.new_zeros(())) if return_aux else logits

    def init_state(self, batch_size: int, device: torch.device | None = None) -> SSMState:
        self.check_batch_size(batch_size)
        c, weight = self.config, self.embed.weight
        shape = (batch_size, c.expand * c.d_model, c.d_state)
        h = [weight.new_zeros(shape, device=device) for _ in range(c.n_layers)]
        return SSMState(h)

    def _step(self, token: torch.Tensor, state: SSMState) -> tuple[torch.Tensor, SSMState]:
        """token: [B] -> (logits [B, V], state): the scan of `forward` over one position."""
        if state.position >= self.config.max_len:
            raise ValueError(f"decode position {state.position} exceeds max_len {self.config.max_len}")
        logits, state.h = self._run(self.embed(token)[:, None], state.h)
        state.position += 1
        return logits[:, 0], state

    @torch.no_grad()
    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, SSMState]:
        """Parallel prefill: one forward pass gives the last logits and every layer's h."""
        self.check_input_ids(input_ids, self.config.max_len)
        logits, h = self._run(self.embed(input_ids), None)
        return logits[:, -1], SSMState(h, position=input_ids.shape[1])
