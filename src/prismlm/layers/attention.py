"""Causal multi-head self-attention on `scaled_dot_product_attention`, with RoPE and a KV cache."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..ops.attention_step_cpu import rope_append_step
from ..ops.cpu_kernels import kernels_enabled
from .decode_weights import decode_weights
from .rotary import Rotary


class KVCache:
    """Keys and values of one layer, [B, H, capacity, D], grown by doubling (amortised O(1))."""

    def __init__(self, batch: int, heads: int, head_dim: int, device, dtype, capacity: int = 256):
        self.k = torch.empty(batch, heads, capacity, head_dim, device=device, dtype=dtype)
        self.v = torch.empty_like(self.k)
        self.length = 0

    def reserve(self, t: int) -> None:
        """Make room for t more positions (doubling the capacity when it runs out)."""
        n = self.length
        if n + t > self.k.shape[2]:
            capacity = max(2 * self.k.shape[2], n + t)
            grown_k = self.k.new_empty(*self.k.shape[:2], capacity, self.k.shape[3])
            grown_v = torch.empty_like(grown_k)
            grown_k[:, :, :n] = self.k[:, :, :n]
            grown_v[:, :, :n] = self.v[:, :, :n]
            self.k, self.v = grown_k, grown_v

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add k, v: [B, H, t, D]; return views of all cached keys and values."""
        n, t = self.length, k.shape[2]
        self.reserve(t)
        self.k[:, :, n : n + t] = k
        self.v[:, :, n : n + t] = v
        self.length = n + t
        return self.k[:, :, : self.length], self.v[:, :, : self.length]

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Replace the key and value buffers by `fn(buffer)` (e.g. a device move)."""
        self.k, self.v = fn(self.k), fn(self.v)

    def num_floats(self) -> int:
        """Floats actually held for the cached positions (keys + values)."""
        B, H, _, D = self.k.shape
        return 2 * B * H * self.length * D


class CausalSelfAttention(nn.Module):
    """x: [B, T, d_model] -> [B, T, d_model]. Fused W_qkv split as contiguous [q | k | v] blocks,
    RoPE on q and k, causal SDPA with scale 1/√d_h, no biases."""

    def __init__(
        self, d_model: int, n_heads: int, max_len: int, rope_base: float = 10000.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)
        self.rotary = Rotary(self.head_dim, max_len, rope_base)
        self.dropout = dropout

    def _heads(self, x: torch.Tensor, offset: int):
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return self.rotary(q, offset), self.rotary(k, offset), v

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """With `cache` (empty), also stores this segment's keys and values for decoding."""
        B, T, d = x.shape
        q, k, v = self._heads(x, 0)
        if cache is not None:
            cache.append(k, v)
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        return self.proj(y.transpose(1, 2).reshape(B, T, d))

    def step(self, x_t: torch.Tensor, cache: KVCache, residual: torch.Tensor | None = None) -> torch.Tensor:
        """x_t: [B, d_model] at position cache.length -> [B, d_model] (plus `residual` [B, d_model]
        when given: the add joins the output matmul)."""
        B, d = x_t.shape
        w = decode_weights(self, lambda: {
            "qkv": self.qkv.weight.t().contiguous(), "proj": self.proj.weight.t().contiguous()
        })
        if self._kernel_ready(x_t, cache):
            y = self._kernel_attend(x_t @ w["qkv"], cache, w)
        else:
            y = self._torch_attend(x_t @ w["qkv"], cache)
        y = y.reshape(B, d)
        return y @ w["proj"] if residual is None else torch.addmm(residual, y, w["proj"])

    def _torch_attend(self, qkv: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """qkv [B, 3d] -> attention output [B, H, 1, D] (rotary, cache write, SDPA as torch ops)."""
        B = qkv.shape[0]
        qkv = qkv.view(B, 3, self.n_heads, 1, self.head_dim)
        qk = self.rotary(qkv[:, :2], cache.length)  # q and k rotated in one op
        keys, values = cache.append(qk[:, 1], qkv[:, 2])
        return F.scaled_dot_product_attention(qk[:, 0], keys, values)

    def _kernel_ready(self, x_t: torch.Tensor, cache: KVCache) -> bool:
        """Whether the rotary and cache write may run as the fused CPU kernel: fp32 inference
        on CPU without compiler tracing (the torch form rotates in fp32 whatever the dtype)."""
        if torch.compiler.is_compiling() or not kernels_enabled() or x_t.device.type != "cpu":
            return False
        if x_t.dtype is not torch.float32 or cache.k.dtype is not torch.float32:
            return False
        if torch.is_autocast_enabled("cpu") or not (cache.k.is_contiguous() and cache.v.is_contiguous()):
            return False
        if cache.k.requires_grad or cache.v.requires_grad:  # a cache filled under autograd
            return False
        return not (torch.is_grad_enabled() and (x_t.requires_grad or self.qkv.weight.requires_grad))

    def _kernel_attend(self, qkv: torch.Tensor, cache: KVCache, w: dict) -> torch.Tensor:
        """`_torch_attend` with the rotary and cache write as one kernel (ops.attention_step_cpu)."""
        n = cache.length
        if n >= self.rotary.max_len:
            raise ValueError(f"position {n} is beyond the rotary table (max_len {self.rotary.max_len})")
        if "rope" not in w:  # derived data, kept beside the decode weights
            w["rope"] = self.rotary.table(qkv.device).numpy()
        cache.reserve(1)
        q = qkv.new_empty(qkv.shape[0], self.n_heads, 1, self.head_dim)
        rope_append_step(qkv.numpy(), w["rope"], n, cache.k.numpy(), cache.v.numpy(), q.numpy())
        cache.length = n + 1
        return F.scaled_dot_product_attention(q, cache.k[:, :, : n + 1], cache.v[:, :, : n + 1])
