"""Vector-symbolic (holographic) algebra: pure tensor functions, batched over facts.

Two algebras, both on real fp32 vectors of dimension d:

* **MAP** (multiply-add-permute, bipolar): vectors in {-1, +1}^d.
  bind(a, b) = a ⊙ b (self-inverse: a ⊙ (a ⊙ b) = b), superposition = sum,
  unbind(H, a) = a ⊙ H.
* **HRR** (holographic reduced representations, Plate 1995): vectors with i.i.d. N(0, 1/d)
  entries. bind(a, b) = a ⊛ b (circular convolution), unbind(H, a) = a ⋆ H (circular
  correlation, the approximate inverse), both computed with real FFTs in O(d log d):
  a ⊛ b = irfft(rfft(a) · rfft(b)),  a ⋆ H = irfft(conj(rfft(a)) · rfft(H)).

With N random facts superposed in H = Σ_i bind(k_i, v_i), unbind(H, k_i) = v_i + noise whose
cosine with v_i is ≈ 1/√N; a cleanup memory (nearest known vector by cosine) recovers v_i
while the margin √(d/N) exceeds the largest of the N − 1 competitors' noise, ≈ √(2 ln N).

Shapes: a single vector is [d]; a batch of facts is [N, d]; every function broadcasts over
leading dimensions unless its docstring says otherwise. Nothing here imports above `ops/`.
The causal MAP memory over a sequence (bind, superpose up to t, normalised unbind, read-out)
is `ops/holo_scan.py`.
"""

from __future__ import annotations

import torch

__all__ = [
    "bipolarize",
    "sign_ste",
    "random_bipolar",
    "random_hrr",
    "map_bind",
    "map_unbind",
    "hrr_bind",
    "hrr_unbind",
    "hrr_bind_naive",
    "hrr_unbind_naive",
    "superpose",
    "map_bind_superpose",
    "cosine_matrix",
    "cleanup",
    "pack_bipolar",
    "unpack_bipolar",
]


def bipolarize(x: torch.Tensor) -> torch.Tensor:
    """Elementwise sign with sign(0) = +1, as fp32 in {-1, +1}. x: [..., d] -> [..., d]."""
    return torch.where(x >= 0, 1.0, -1.0).to(torch.float32)


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        (x,) = ctx.saved_tensors
        # Hard-tanh straight-through: pass the gradient where |x| <= 1, where sign is "soft".
        return grad * (x.abs() <= 1).to(grad.dtype)


def sign_ste(x: torch.Tensor) -> torch.Tensor:
    """Bipolar sign in the forward pass, straight-through (hard-tanh) gradient backward."""
    return _SignSTE.apply(x)


def random_bipolar(
    n: int, d: int, generator: torch.Generator | None = None, device: torch.device | None = None
) -> torch.Tensor:
    """n i.i.d. uniform bipolar vectors: [n, d] fp32 in {-1, +1}."""
    bits = torch.randint(0, 2, (n, d), generator=generator, device=device, dtype=torch.int8)
    return (bits * 2 - 1).to(torch.float32)


def random_hrr(
    n: int, d: int, generator: torch.Generator | None = None, device: torch.device | None = None
) -> torch.Tensor:
    """n HRR vectors with i.i.d. N(0, 1/d) entries (unit norm in expectation): [n, d]."""
    return torch.randn(n, d, generator=generator, device=device) / d**0.5


def map_bind(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MAP binding a ⊙ b. a, b: [..., d] (bipolar) -> [..., d]. Self-inverse."""
    return a * b


def map_unbind(tape: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """MAP unbinding key ⊙ H. tape: [..., d], key: [..., d] -> noisy value [..., d]."""
    return key * tape


def hrr_bind(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Circular convolution (a ⊛ b)_j = Σ_i a_i b_{(j−i) mod d} via rfft. [..., d] -> [..., d]."""
    d = a.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(a, dim=-1) * torch.fft.rfft(b, dim=-1), n=d, dim=-1)


def hrr_unbind(tape: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Circular correlation (k ⋆ H)_j = Σ_i k_i H_{(i+j) mod d}, the approximate inverse of
    `hrr_bind` for random keys. tape: [..., d], key: [..., d] -> [..., d]."""
    d = tape.shape[-1]
    spec = torch.conj(torch.fft.rfft(key, dim=-1)) * torch.fft.rfft(tape, dim=-1)
    return torch.fft.irfft(spec, n=d, dim=-1)


def hrr_bind_naive(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Reference O(d²) circular convolution for one pair of vectors a, b: [d] -> [d]."""
    d = a.shape[-1]
    out = torch.zeros(d, dtype=torch.float64)
    for j in range(d):
        for i in range(d):
            out[j] += float(a[i]) * float(b[(j - i) % d])
    return out.to(a.dtype)


def hrr_unbind_naive(tape: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Reference O(d²) circular correlation for one tape and key: [d] -> [d]."""
    d = tape.shape[-1]
    out = torch.zeros(d, dtype=torch.float64)
    for j in range(d):
        for i in range(d):
            out[j] += float(key[i]) * float(tape[(i + j) % d])
    return out.to(tape.dtype)


def superpose(bound: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Superposition Σ_i bound_i. bound: [N, d] -> [d].

    Summed in row chunks so large batches stay cache-friendly (the sum is exact for bipolar
    MAP products while N < 2^24).
    """
    if bound.dim() != 2:
        raise ValueError(f"superpose expects [N, d], got shape {tuple(bound.shape)}")
    out = torch.zeros(bound.shape[1], dtype=bound.dtype, device=bound.device)
    for s in range(0, bound.shape[0], chunk):
        out += bound[s : s + chunk].sum(0)
    return out


def map_bind_superpose(keys: torch.Tensor, values: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Σ_i keys_i ⊙ values_i for bipolar batches without materialising the [N, d] products.

    keys, values: [N, d] int8 or fp32 in {-1, +1} (not checked) -> [d] fp32. Row chunks keep
    the work in cache; int8 inputs are multiplied as int8 and summed in fp32 (exact).
    """
    if keys.shape != values.shape or keys.dim() != 2:
        raise ValueError(
            f"keys and values must both be [N, d], got {tuple(keys.shape)}, {tuple(values.shape)}"
        )
    out = torch.zeros(keys.shape[1], dtype=torch.float32, device=keys.device)
    for s in range(0, keys.shape[0], chunk):
        out += torch.sum(torch.mul(keys[s : s + chunk], values[s : s + chunk]), 0, dtype=torch.float32)
    return out


def cosine_matrix(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Pairwise cosine similarity. a: [Q, d], b: [M, d] -> [Q, M]."""
    an = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    bn = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    return an @ bn.T


def cleanup(
    noisy: torch.Tensor, codebook: torch.Tensor, top_k: int = 1, chunk: int = 4096
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cleanup memory: the nearest codebook items to each noisy vector by cosine.

    noisy: [Q, d], codebook: [M, d] -> (indices [Q, k], cosines [Q, k]), best first.
    Queries are processed in chunks so the [Q, M] score matrix stays bounded.
    """
    if noisy.dim() != 2 or codebook.dim() != 2:
        raise ValueError("cleanup expects noisy [Q, d] and codebook [M, d]")
    if noisy.shape[1] != codebook.shape[1]:
        raise ValueError(f"dimension mismatch: queries d={noisy.shape[1]}, codebook d={codebook.shape[1]}")
    if codebook.shape[0] == 0:
        raise ValueError("cleanup needs a non-empty codebook")
    k = min(top_k, codebook.shape[0])
    cb = codebook / codebook.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    idx, val = [], []
    for s in range(0, noisy.shape[0], chunk):
        q = noisy[s : s + chunk]
        scores = (q @ cb.T) / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        v, i = scores.topk(k, dim=-1)
        idx.append(i)
        val.append(v)
    return torch.cat(idx), torch.cat(val)


def pack_bipolar(x: torch.Tensor) -> bytes:
    """Bipolar [d] vector -> d/8 bytes (bit 1 for +1), for compact storage. d % 8 == 0."""
    import numpy as np

    if x.dim() != 1 or x.shape[0] % 8:
        raise ValueError(f"pack_bipolar needs a [d] vector with d % 8 == 0, got {tuple(x.shape)}")
    return np.packbits((x.detach().cpu().numpy() >= 0).astype(np.uint8)).tobytes()


def unpack_bipolar(blob: bytes, d: int) -> torch.Tensor:
    """Inverse of `pack_bipolar`: d/8 bytes -> [d] fp32 in {-1, +1}."""
    import numpy as np

    if len(blob) * 8 != d:
        raise ValueError(f"packed vector has {len(blob)} bytes, expected {d // 8} for d={d}")
    bits = np.unpackbits(np.frombuffer(blob, dtype=np.uint8))
    return torch.from_numpy(bits.astype(np.float32) * 2 - 1)
