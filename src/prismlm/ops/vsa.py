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
    "pack_bipolar_rows",
    "unpack_bipolar_rows",
    "packed_bipolar_scores",
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
    """Σ_i sign(k_i) ⊙ sign(v_i) without materialising the [N, d] products.

    keys, values: [N, d], both int8 (read as signs, sign(0) = +1) or fp32 in {-1, +1} (not
    checked; multiplied as given) -> [d] fp32, exact (integers while N < 2^24).

    The int8 path never multiplies: the product of two signs is negative exactly where the sign
    bits differ, i.e. where k XOR v < 0, so with c_j = #{i : (k_i XOR v_i)_j < 0} the sum is
    N − 2·c_j. Per row chunk (≤ 127 rows, so an int8 column sum of {-1, 0} cannot overflow)
    that is one XOR, one clamp to {-1, 0} and one int8 column sum.
    """
    if keys.shape != values.shape or keys.dim() != 2:
        raise ValueError(
            f"keys and values must both be [N, d], got {tuple(keys.shape)}, {tuple(values.shape)}"
        )
    n, d = keys.shape
    if keys.dtype != torch.int8 or values.dtype != torch.int8:
        out = torch.zeros(d, dtype=torch.float32, device=keys.device)
        for s in range(0, n, chunk):
            out += torch.sum(keys[s : s + chunk].float() * values[s : s + chunk].float(), 0)
        return out
    c = max(1, min(chunk, 127))
    neg = torch.zeros(d, dtype=torch.int32, device=keys.device)  # −c_j
    buf = torch.empty(min(c, n), d, dtype=torch.int8, device=keys.device)
    for s in range(0, n, c):
        kc, vc = keys[s : s + c], values[s : s + c]
        x = torch.bitwise_xor(kc, vc, out=buf[: kc.shape[0]]).clamp_(-1, 0)
        neg += torch.sum(x, 0, dtype=torch.int8)
    return (neg * 2 + n).to(torch.float32)


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


def pack_bipolar_rows(x: torch.Tensor, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Batched `pack_bipolar`: [N, d] (any real or int8 dtype; bit 1 where x ≥ 0, first element
    in the most significant bit) -> uint8 [N, d/8]; row i holds the bytes of pack_bipolar(x[i]).

    scratch: optional bool [≥ N, d] CPU buffer for the x ≥ 0 mask; callers packing many chunks
    pass one, so that each chunk does not allocate (and page-fault) a fresh N·d-byte mask.
    """
    import numpy as np

    if x.dim() != 2 or x.shape[1] % 8:
        raise ValueError(f"pack_bipolar_rows needs [N, d] with d % 8 == 0, got {tuple(x.shape)}")
    xn = x.detach().cpu().numpy()
    if scratch is None:
        mask = xn >= 0
    else:
        if scratch.dtype != torch.bool or scratch.shape[0] < x.shape[0] or scratch.shape[1] != x.shape[1]:
            raise ValueError(f"scratch must be bool [>= {x.shape[0]}, {x.shape[1]}], got "
                             f"{scratch.dtype} {tuple(scratch.shape)}")  # fmt: skip
        mask = np.greater_equal(xn, 0, out=scratch[: x.shape[0]].numpy())
    return torch.from_numpy(np.packbits(mask, axis=-1))


def unpack_bipolar_rows(packed: torch.Tensor, d: int, as_bool: bool = False) -> torch.Tensor:
    """Inverse of `pack_bipolar_rows`: uint8 [N, d/8] -> [N, d] fp32 in {-1, +1}
    (as_bool: True where the element is +1, one byte per element)."""
    import numpy as np

    if packed.dim() != 2 or packed.dtype != torch.uint8 or packed.shape[1] * 8 != d:
        raise ValueError(f"packed rows must be uint8 [N, {d // 8}], got {packed.dtype} {tuple(packed.shape)}")
    bits = torch.from_numpy(np.unpackbits(packed.cpu().numpy(), axis=-1))
    return bits.view(torch.bool) if as_bool else bits.to(torch.float32).mul_(2).sub_(1)


# _BYTE_SIGNS[i, b] = the sign (±1) that byte value b packs for its i-th element (bit 7 − i)
_BYTE_SIGNS = ((torch.arange(256)[None] >> (7 - torch.arange(8))[:, None]) & 1).float() * 2 - 1


def packed_bipolar_scores(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """x @ Vᵀ for bipolar V given packed (`pack_bipolar_rows`), without unpacking V.

    x: [Q, d] fp32, packed: uint8 [N, d/8] -> [Q, N]. Every byte of a row of V is one of 256
    sign patterns of 8 elements, so per query the table T[j, b] = Σ_i x_{8j+i} · sign_i(b)
    ([d/8, 256], one small matmul) turns each score into d/8 lookups: (x @ Vᵀ)_m =
    Σ_j T[j, packed[m, j]]. That reads N·d/8 bytes instead of an [N, d] float matrix; with
    integer x (|partial sums| < 2^24) the result is exact.
    """
    if x.dim() != 2 or packed.dim() != 2 or packed.shape[1] * 8 != x.shape[1]:
        raise ValueError(f"need x [Q, d] and packed [N, d/8], got {tuple(x.shape)}, {tuple(packed.shape)}")
    q, d = x.shape
    n, nb = packed.shape
    table = (x.reshape(q, nb, 8) @ _BYTE_SIGNS.to(x.dtype)).reshape(q, nb * 256)
    flat = (packed.long() + torch.arange(0, nb * 256, 256)).reshape(-1)  # [N·d/8] table index
    return torch.index_select(table, 1, flat).reshape(q, n, nb).sum(-1)
