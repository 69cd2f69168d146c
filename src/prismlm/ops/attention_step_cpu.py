"""The Transformer's per-token rotary and KV-cache write as one fused CPU kernel (numba).

`rope_append_step` takes the fused projection row qkv = [q | k | v] (each [H, D], the layout of
`CausalSelfAttention`'s W_qkv), rotates q and k at position `pos` with the rotary table (pair i
of a vector, (x_{2i}, x_{2i+1}), becomes (x_{2i} c − x_{2i+1} s, x_{2i} s + x_{2i+1} c) with
(c, s) = table[pos, i]), writes q to `q_out` and k, v into the caches at `pos`. The attention
itself stays one SDPA call. The torch form (`Rotary` + `KVCache.append`) is the reference and
the path for everything else (autograd, autocast, GPU, `torch.compile`); tests hold them equal.
"""

from __future__ import annotations

from .cpu_kernels import jit


@jit
def rope_append_step(qkv, table, pos, cache_k, cache_v, q_out):  # pragma: no cover - numba
    """qkv [B, 3·H·D]; table [max_len, D/2, 2]; cache_k/v [B, H, capacity, D] written at `pos`;
    q_out [B, H, 1, D]."""
    B = qkv.shape[0]
    H, D = cache_k.shape[1], cache_k.shape[3]
    d = H * D
    for b in range(B):
        for h in range(H):
            q0, k0, v0 = h * D, d + h * D, 2 * d + h * D
            for i in range(D // 2):
                c = table[pos, i, 0]
                s = table[pos, i, 1]
                x0 = qkv[b, q0 + 2 * i]
                x1 = qkv[b, q0 + 2 * i + 1]
                q_out[b, h, 0, 2 * i] = x0 * c - x1 * s
                q_out[b, h, 0, 2 * i + 1] = x0 * s + x1 * c
                x0 = qkv[b, k0 + 2 * i]
                x1 = qkv[b, k0 + 2 * i + 1]
                cache_k[b, h, pos, 2 * i] = x0 * c - x1 * s
                cache_k[b, h, pos, 2 * i + 1] = x0 * s + x1 * c
            for i in range(D):
                cache_v[b, h, pos, i] = qkv[b, v0 + i]
