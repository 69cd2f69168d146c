"""HoloHead: the holographic variant of PRISM's memory expert, causal.

The slot tape M ∈ R^{S × d_mem} is replaced by one holographic accumulator H ∈ R^D
(D = S·d_mem, the flattened tape). Per position t of x: [B, T, d_model]:

    k_t = sign(W_k x_{t−s})      (key of the token `key_shift` = s positions back; none for t < s)
    v_t = sign(W_v x_t)          (value of the current token)
    q_t = sign(W_k x_t)          (the current token asks for what followed it before)
    H_t = H_0 + Σ_{u ≤ t} k_u ⊙ v_u                      (causal: only positions ≤ t)
    r_t = q_t ⊙ H_t / (‖H_t‖ / √D)                       (MAP unbind, scale-normalised)
    y_t = (√d_model / D) · r_t W_v                      (back to d_model through W_vᵀ)

With s = 1 this is an induction-style memory: having seen "a b", a later "a" reads back ≈ the
value of "b". Bind, superpose, unbind and read-out are fixed algebra: the memory path has no
parameters of its own — no q_proj, read_out, write gate or erase gate. The only weights are the
two encoders W_k, W_v (trainable, or fixed random buffers with `trainable_encoders=False`), and
the read-out reuses W_v (y ∝ W_vᵀ sign(W_v x) ≈ √(2/π)·x/‖x‖ per unit of signal), so a recalled
value lands near the embedding that wrote it.

Unlike the reference (which writes the mean over all positions, so position t sees t' > t),
H_t here only holds writes from positions ≤ t; `step` reproduces `forward` one token at a time.
H_0 (`tape=`) lets knowledge be added without training: `write_facts` binds (key, value) pairs
of d_model vectors with the head's own encoders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from ..ops.vsa import sign_ste

__all__ = ["HoloHeadConfig", "HoloHead"]


@dataclass
class HoloHeadConfig:
    """d_model: model width. dim: tape size D (the reference flattens S·d_mem, e.g. 32·64).
    key_shift: how many positions back the written key comes from (0 = same token, as in the
    reference). trainable_encoders: W_k, W_v as parameters (True) or fixed buffers (False).
    seed: initialisation seed of the encoders (None = use the global RNG)."""

    d_model: int = 128
    dim: int = 2048
    key_shift: int = 1
    trainable_encoders: bool = True
    seed: int | None = None

    def __post_init__(self) -> None:
        require(self.d_model > 0, "d_model", "must be positive")
        require(self.dim >= 8, "dim", "must be >= 8")
        require(self.key_shift >= 0, "key_shift", "must be >= 0")


class HoloHead(nn.Module):
    """Causal holographic memory expert.

    Constructor: `HoloHead(config: HoloHeadConfig)` or keyword shortcuts
    `HoloHead(d_model=128, dim=2048, key_shift=1, trainable_encoders=True, seed=None)`.

    forward(x [B, T, d_model], tape: [B, D] | [D] | None) -> y [B, T, d_model]
    init_state(B) -> state;  step(x_t [B, d_model], state) -> (y_t [B, d_model], state)
    write_facts(keys [N, d_model], values [N, d_model]) -> tape [D] (bound, superposed)
    """

    def __init__(self, config: HoloHeadConfig | None = None, **kwargs) -> None:
        super().__init__()
        if config is None:
            config = HoloHeadConfig(**kwargs)
        elif kwargs:
            raise TypeError("pass either a HoloHeadConfig or keyword arguments, not both")
        self.config = config
        d, D = config.d_model, config.dim
        g = torch.Generator().manual_seed(config.seed) if config.seed is not None else None
        w_k = torch.randn(D, d, generator=g) * d**-0.5
        w_v = torch.randn(D, d, generator=g) * d**-0.5
        if config.trainable_encoders:
            self.w_k, self.w_v = nn.Parameter(w_k), nn.Parameter(w_v)
        else:
            self.register_buffer("w_k", w_k)
            self.register_buffer("w_v", w_v)
        self.out_scale = math.sqrt(d) / D
        self.chunk = 128  # positions per scan chunk in `forward` (bounds memory to B·chunk·D)

    # --------------------------------------------------------------------------- encoders
    def encode_key(self, x: torch.Tensor) -> torch.Tensor:
        """sign(W_k x): [..., d_model] -> [..., D]."""
        return sign_ste(x @ self.w_k.T)

    def encode_value(self, x: torch.Tensor) -> torch.Tensor:
        """sign(W_v x): [..., d_model] -> [..., D]."""
        return sign_ste(x @ self.w_v.T)

    def memory_path_parameters(self) -> list[nn.Parameter]:
        """Parameters owned by bind / unbind / read-out: none, by construction."""
        encoders = {id(p) for p in (self.w_k, self.w_v)}
        return [p for p in self.parameters() if id(p) not in encoders]

    @torch.no_grad()
    def write_facts(self, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Bind N (key, value) pairs of d_model vectors into a fresh tape: [N, d] x2 -> [D]."""
        if keys.shape != values.shape or keys.dim() != 2 or keys.shape[1] != self.config.d_model:
            raise ValueError(
                f"keys and values must both be [N, {self.config.d_model}], got "
                f"{tuple(keys.shape)} and {tuple(values.shape)}"
            )
        return (self.encode_key(keys) * self.encode_value(values)).sum(0)

    # ----------------------------------------------------------------------------- forward
    def _check(self, x: torch.Tensor, tape: torch.Tensor | None) -> torch.Tensor | None:
        if x.dim() != 3 or x.shape[-1] != self.config.d_model:
            raise ValueError(f"x must be [B, T, {self.config.d_model}], got {tuple(x.shape)}")
        if tape is None:
            return None
        if tape.dim() == 1:
            tape = tape.expand(x.shape[0], -1)
        if tape.shape != (x.shape[0], self.config.dim):
            raise ValueError(
                f"tape must be [{self.config.dim}] or [B, {self.config.dim}], got {tuple(tape.shape)}"
            )
        return tape.to(x.dtype)

    def _read(self, q: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        rms = h.norm(dim=-1, keepdim=True) / math.sqrt(self.config.dim)
        r = q * h / rms.clamp_min(1e-6)
        return (r @ self.w_v) * self.out_scale

    def forward(self, x: torch.Tensor, tape: torch.Tensor | None = None) -> torch.Tensor:
        """x: [B, T, d_model], tape: optional initial H_0 -> y: [B, T, d_model] (causal)."""
        h0 = self._check(x, tape)
        s = self.config.key_shift
        v = self.encode_value(x)
        k = self.encode_key(x)
        if s > 0:  # key written at t comes from t − s; positions t < s write nothing
            k = torch.cat([torch.zeros_like(k[:, :s]), k[:, :-s]], dim=1)[:, : x.shape[1]]
        q = self.encode_key(x)
        b, t, _ = x.shape
        carry = h0 if h0 is not None else x.new_zeros(b, self.config.dim)
        outs = []
        # Chunked causal scan: only a [B, chunk, D] slice of H_t exists at a time.
        for c in range(0, t, self.chunk):
            h = carry[:, None, :] + torch.cumsum(k[:, c : c + self.chunk] * v[:, c : c + self.chunk], 1)
            outs.append(self._read(q[:, c : c + self.chunk], h))
            carry = h[:, -1]
        return torch.cat(outs, dim=1)

    # ------------------------------------------------------------------------------ decode
    def init_state(self, batch_size: int, tape: torch.Tensor | None = None) -> dict:
        """Decode state: H [B, D] and the last `key_shift` inputs."""
        D = self.config.dim
        h = torch.zeros(batch_size, D) if tape is None else tape.expand(batch_size, D).clone()
        return {"h": h, "history": []}

    def step(self, x_t: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """One position: x_t [B, d_model] -> (y_t [B, d_model], new state). O(D·d_model)."""
        s = self.config.key_shift
        history = state["history"] + [x_t]
        h = state["h"]
        if len(history) > s:
            h = h + self.encode_key(history[-1 - s]) * self.encode_value(x_t)
        y = self._read(self.encode_key(x_t), h)
        return y, {"h": h, "history": history[-s:] if s else []}
