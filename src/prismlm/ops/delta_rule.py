"""The gated delta rule with a rectangular per-head state and a pre-write read.

Per (batch, head), with keys/queries of width K (= d_φ), values of width V (= d_v), state
S ∈ R^{V×K} (S_0 given or zero), write strength β_t, decay α_t ∈ (0, 1] (α ≡ 1 when absent) and
erase strength β^e_t ∈ [0, 1] (β^e ≡ β when absent — the plain delta rule):

    o_t = S_{t-1} q_t                                  read BEFORE the write of step t
    u_t = β_t v_t − β^e_t α_t S_{t-1} k_t              write vector (= β_t ε_t when β^e = β)
    S_t = α_t S_{t-1} + u_t k_tᵀ  =  α_t S_{t-1}(I − β^e_t k_t k_tᵀ) + β_t v_t k_tᵀ

β^e = 0 is the additive (erase-free) write; a separately gated β^e decouples erasing from
writing. Token t never sees its own (k_t, v_t) through the state. Three implementations share
this definition:

* `delta_rule_recurrent` — the definition as a plain loop over t (the reference).
* `delta_rule_chunked`   — the chunkwise-parallel WY/UT form (training path, autograd).
* `delta_rule_step`      — one token, for constant-memory decoding.

`delta_rule` dispatches to flash-linear-attention's kernel where it can run the call (see
`ops.delta_rule_fla`), else to the chunked form. Layout is head-major: q, k [B, H, T, K];
v [B, H, T, V]; beta, alpha, erase [B, H, T].

Dtypes (`ops.numerics`): all three compute in fp32 (fp64 for fp64 inputs) with autocast off;
o is returned in promote(q, v).dtype, the state S_T in the compute dtype. A NaN/inf in k, v, β
α or β^e at step t reaches the outputs of steps > t only, as in the recurrence; T = 0 is allowed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .numerics import (
    cast,
    compute_dtype,
    finite_or_zero,
    full_precision,
    poison,
    reached_after,
)

# α is clamped before its log so that decay ratios stay finite (exp of differences of logs).
_MIN_DECAY = 1e-6
# Side of the diagonal blocks of the unit-triangular inverse that are inverted in closed form.
# At 4 the product form (I + N)(I + N²) has at most 3-factor terms: no cancellation (at 16 its
# intermediates reach ~3e4 on correlated keys and cancel to a 4e-4 error in fp32).
_INVERSE_BASE = 4


def _check_shapes(q, k, v, beta, alpha, initial_state, erase=None) -> None:
    if q.dim() != 4 or k.shape != q.shape:
        raise ValueError(f"q and k must both be [B, H, T, K]; got {tuple(q.shape)}, {tuple(k.shape)}")
    B, H, T, _ = q.shape
    if v.dim() != 4 or v.shape[:3] != (B, H, T):
        raise ValueError(f"v must be [B, H, T, V] matching q's [B, H, T]; got {tuple(v.shape)}")
    if beta.shape != (B, H, T):
        raise ValueError(f"beta must be [B, H, T] = {(B, H, T)}; got {tuple(beta.shape)}")
    if alpha is not None and alpha.shape != (B, H, T):
        raise ValueError(f"alpha must be [B, H, T] = {(B, H, T)}; got {tuple(alpha.shape)}")
    if erase is not None and erase.shape != (B, H, T):
        raise ValueError(f"erase must be [B, H, T] = {(B, H, T)}; got {tuple(erase.shape)}")
    if initial_state is not None and initial_state.shape != (B, H, v.shape[-1], q.shape[-1]):
        raise ValueError(
            f"initial_state must be [B, H, V, K] = {(B, H, v.shape[-1], q.shape[-1])}; "
            f"got {tuple(initial_state.shape)}"
        )


def _initial(q, v, initial_state, dtype) -> torch.Tensor:
    B, H, _, K = q.shape
    if initial_state is None:
        return torch.zeros(B, H, v.shape[-1], K, dtype=dtype, device=q.device)
    return initial_state.to(dtype)


def contain_nonfinite(k, v, beta, alpha):
    """Replace non-finite steps by no-op writes (k = v = 0, β = 0, α = 1).

    Returns (k, v, beta, alpha, bad) with bad: [B, H, T] bool. One step is bad when any entry
    of its k, v, β or α is NaN/inf (a sum is non-finite iff an entry is, barring overflow).
    """
    total = k.sum(-1) + v.sum(-1) + beta + (0.0 if alpha is None else alpha)
    bad = ~torch.isfinite(total)
    k, v = finite_or_zero(k, bad[..., None]), finite_or_zero(v, bad[..., None])
    beta = finite_or_zero(beta, bad)
    alpha = None if alpha is None else finite_or_zero(alpha, bad, fill=1.0)
    return k, v, beta, alpha, bad


def poison_outputs(o, state, bad):
    """NaN where the recurrence would have it: o_t for t after a bad step, S_T after any."""
    o = poison(o, reached_after(bad, inclusive=False)[..., None])
    return o, poison(state, bad.any(-1)[..., None, None])


def delta_rule_recurrent(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    erase: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: the recurrence above, one token at a time (erase None: β^e = β).

    Returns (o [B, H, T, V], S_T [B, H, V, K]).
    """
    _check_shapes(q, k, v, beta, alpha, initial_state, erase)
    out_dtype, dt = torch.promote_types(q.dtype, v.dtype), compute_dtype(q, k, v, initial_state)
    with full_precision(q.device.type):
        q, k, v, beta, alpha, erase = cast(dt, q, k, v, beta, alpha, erase)
        S = _initial(q, v, initial_state, dt)
        outputs = []
        steps = zip(q.unbind(2), k.unbind(2), v.unbind(2), beta.unbind(2), strict=True)
        for t, (q_t, k_t, v_t, b_t) in enumerate(steps):
            a_t = 1.0 if alpha is None else alpha[:, :, t, None].clamp_min(_MIN_DECAY)
            outputs.append(torch.einsum("bhvk,bhk->bhv", S, q_t))
            s_k = torch.einsum("bhvk,bhk->bhv", S, k_t)
            if erase is None:
                u_t = b_t[..., None] * (v_t - a_t * s_k)
            else:
                u_t = b_t[..., None] * v_t - erase[:, :, t, None] * a_t * s_k
            S = (a_t[..., None] if alpha is not None else 1.0) * S + u_t[..., :, None] * k_t[..., None, :]
        o = torch.stack(outputs, dim=2) if outputs else v.new_zeros(v.shape)
    return o.to(out_dtype), S


def delta_rule_step(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None,
    state: torch.Tensor,
    erase: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One decoding step. q, k: [B, H, K]; v: [B, H, V]; beta, alpha, erase: [B, H] (erase None:
    β^e = β); state [B, H, V, K].

    Returns (o_t [B, H, V] in promote(q, v).dtype, S_t in the compute dtype). Reads S_{t-1} with
    q and k in one matmul to keep the op count (and so the per-token latency on CPU) low; the
    common all-fp32 call without autocast takes no cast and no context switch.
    """
    dt = compute_dtype(q, k, v, state)
    if (
        q.dtype == k.dtype == v.dtype == beta.dtype == state.dtype == dt
        and (alpha is None or alpha.dtype == dt)
        and (erase is None or erase.dtype == dt)
        and not torch.is_autocast_enabled(q.device.type)
    ):
        return _step(q, k, v, beta, alpha, state, erase)
    out_dtype = torch.promote_types(q.dtype, v.dtype)
    with full_precision(q.device.type):
        o, new_state = _step(*cast(dt, q, k, v, beta, alpha, state, erase))
    return o.to(out_dtype), new_state


def _step(q, k, v, beta, alpha, state, erase=None):
    # [q; k] @ Sᵀ: [B, H, 2, V]. This orientation is ~3× faster on CPU than S @ [q k].
    reads = torch.stack((q, k), dim=-2) @ state.transpose(-1, -2)
    o, s_k = reads.unbind(-2)
    if alpha is None:
        u = beta[..., None] * (v - s_k) if erase is None else _erase_write(v, s_k, beta, erase)
        return o, torch.addcmul(state, u[..., :, None], k[..., None, :])
    a = alpha.clamp_min(_MIN_DECAY)[..., None]
    u = beta[..., None] * (v - a * s_k) if erase is None else _erase_write(v, a * s_k, beta, erase)
    return o, torch.addcmul(a[..., None] * state, u[..., :, None], k[..., None, :])


def _erase_write(v, decayed_read, beta, erase):
    """u = β v − β^e (α S k): the write vector with its own erase strength. v: [B, H, V]."""
    return torch.addcmul(beta[..., None] * v, erase[..., None], decayed_read, value=-1.0)


def _diagonal_blocks(A: torch.Tensor, size: int, row_offset: int = 0) -> torch.Tensor:
    """Blocks (r + row_offset, r) of side `size` along the diagonal of A: [..., n, size, size]."""
    n = A.shape[-1] // size
    grid = A.reshape(*A.shape[:-2], n, size, n, size)
    if row_offset:
        grid = grid[..., row_offset::2, :, 0::2, :]
    return torch.diagonal(grid, dim1=-4, dim2=-2).movedim(-1, -3)


def _unit_lower_inverse(A: torch.Tensor, base: int = _INVERSE_BASE) -> torch.Tensor:
    """(I + A)^{-1} for strictly lower-triangular A: [..., C, C].

    Diagonal blocks of side `base` are inverted with the nilpotent product form
    (I + A)^{-1} = Π_i (I + (−A)^{2^i}); neighbouring inverses are then merged level by level,
    [[I + A11, 0], [A21, I + A22]]^{-1} = [[X11, 0], [−X22 A21 X11, X22]]. Each level is one
    batched matmul over all blocks, so there are O(log C) kernels rather than a solve's C, and
    gradients flow through plain matmuls. Every intermediate is a block of the true inverse (or a
    ≤ 3-factor product at the base), so nothing large cancels: the error is that of a
    forward substitution.
    """
    C = A.shape[-1]
    size = 1 << max(C - 1, 0).bit_length()  # next power of two ≥ C
    if size != C:  # zero padding gives a block-diagonal [[X, 0], [0, I]]: exact
        A = F.pad(A, (0, size - C, 0, size - C))
    b = min(base, size)
    power = -_diagonal_blocks(A, b)
    inverse = torch.eye(b, device=A.device, dtype=A.dtype) + power
    span = 2
    while span < b:
        power = power @ power
        inverse = inverse + inverse @ power
        span *= 2
    while b < size:
        upper, lower = inverse[..., 0::2, :, :], inverse[..., 1::2, :, :]
        off = -(lower @ _diagonal_blocks(A, b, row_offset=1) @ upper)
        top = torch.cat((upper, torch.zeros_like(upper)), dim=-1)
        inverse = torch.cat((top, torch.cat((off, lower), dim=-1)), dim=-2)
        b *= 2
    return inverse[..., 0, :C, :C]


def delta_rule_chunked(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    chunk_size: int = 64,
    erase: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunkwise-parallel WY/UT form of the same recurrence (exact, differentiable).

    Within a chunk of length C (positions i, j; λ_i = Σ_{m≤i} log α_m chunk-locally, λ_{-1} = 0;
    e = β^e, which is β when `erase` is None):
        A_ij = e_i (k_i·k_j) e^{λ_i−λ_j}  (j < i)          strictly lower triangular
        Ũ = (I + A)^{-1} β V                               unit-triangular inverse per chunk
        U = Ũ − (I + A)^{-1} ((e e^{λ} K) S0ᵀ)             true write vectors (needs S0)
        O_i = e^{λ_{i−1}} S0 q_i + Σ_{j<i} e^{λ_{i−1}−λ_j} (q_i·k_j) u_j
        S_end = e^{λ_{C−1}} S0 + Σ_i e^{λ_{C−1}−λ_i} u_i k_iᵀ
    Everything but S0 → S_end is computed for all chunks at once; only that short recursion runs
    sequentially. Decay ratios are exponentials of log differences, masked before the exp, so
    nothing overflows or underflows at any length. The tail chunk is padded with β = β^e = 0,
    α = 1, k = q = 0, which leaves the state untouched.

    Returns (o [B, H, T, V], S_T [B, H, V, K]).
    """
    _check_shapes(q, k, v, beta, alpha, initial_state, erase)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    out_dtype, dt = torch.promote_types(q.dtype, v.dtype), compute_dtype(q, k, v, initial_state)
    with full_precision(q.device.type):
        q, k, v, beta, alpha, erase = cast(dt, q, k, v, beta, alpha, erase)
        S0 = _initial(q, v, initial_state, dt)
        if q.shape[2] == 0:
            return v.new_zeros(v.shape).to(out_dtype), S0
        if erase is not None:  # a non-finite β^e makes its step bad, like any other gate
            beta = poison(beta, ~torch.isfinite(erase))
        k, v, beta, alpha, bad = contain_nonfinite(k, v, beta, alpha)
        if erase is not None:
            erase = finite_or_zero(erase, bad)
        o, S = _chunked(q, k, v, beta, alpha, S0, chunk_size, erase)
        o, S = poison_outputs(o, S, bad)
    return o.to(out_dtype), S


def _chunked(q, k, v, beta, alpha, S, chunk_size, erase=None):
    """The chunked form on finite inputs of one dtype, S = S0 given."""
    B, H, T, K = q.shape
    Vd = v.shape[-1]
    C = min(chunk_size, T)
    N = -(-T // C)
    pad = N * C - T

    def chunks(x: torch.Tensor) -> torch.Tensor:  # [B, H, T, ...] -> [B, H, N, C, ...]
        if pad:
            x = F.pad(x, (0, 0) * (x.dim() - 3) + (0, pad))
        return x.reshape(B, H, N, C, *x.shape[3:])

    qc, kc, vc, bc = chunks(q), chunks(k), chunks(v), chunks(beta)
    ec = bc if erase is None else chunks(erase)  # β^e: the erase strength in A and W
    idx = torch.arange(C, device=q.device)
    strictly_lower = idx[:, None] > idx[None, :]

    if alpha is None:
        kk = kc @ kc.transpose(-1, -2)
        A = (ec[..., None] * kk).masked_fill(~strictly_lower, 0.0)
        erase_scale = ec[..., None]  # [B, H, N, C, 1]: the row scale of W's right-hand side e K
        qk_decay = (qc @ kc.transpose(-1, -2)).masked_fill(~strictly_lower, 0.0)
        read_decay = None
        end_decay = None
        write_decay = None
    else:
        log_a = chunks(torch.log(alpha.clamp_min(_MIN_DECAY)))
        lam = log_a.cumsum(-1)  # [B, H, N, C]
        lam_prev = lam - log_a  # λ_{i−1}: the decay seen by the pre-write read
        diff = (lam[..., :, None] - lam[..., None, :]).masked_fill(~strictly_lower, float("-inf"))
        kk = kc @ kc.transpose(-1, -2)
        A = ec[..., None] * kk * diff.exp()
        erase_scale = (ec * lam.exp())[..., None]  # W's right-hand side is e e^{λ} K
        read_diff = (lam_prev[..., :, None] - lam[..., None, :]).masked_fill(
            ~strictly_lower, float("-inf")
        )
        qk_decay = (qc @ kc.transpose(-1, -2)) * read_diff.exp()
        read_decay = lam_prev.exp()[..., None]  # [B, H, N, C, 1]
        end_decay = lam[..., -1].exp()  # [B, H, N]
        write_decay = (lam[..., -1:] - lam).exp()[..., None]  # [B, H, N, C, 1]

    inverse = _unit_lower_inverse(A)  # (I + A)^{-1}: [B, H, N, C, C]
    u_free = inverse @ (bc[..., None] * vc)  # Ũ [.., C, V]

    # Only the state recursion is sequential: per chunk, the true write vectors
    # U = Ũ − W S0ᵀ = Ũ − (I + A)^{-1} ((e e^{λ} K) S0ᵀ), with the K-wide product taken first:
    # W = (I + A)^{-1} e e^{λ} K itself, a [.., C, K] tensor as wide as φ, is never formed (on a
    # CPU, where a step is bound by passes over such tensors, that is ~15% of a training step).
    # Chunk tensors are split with unbind (the backward of indexing one chunk out of a big
    # tensor zero-fills the whole tensor, once per chunk).
    write_k = kc if write_decay is None else kc * write_decay
    end_decays = [None] * N if end_decay is None else end_decay[..., None, None].unbind(2)
    entering, writes = [], []
    per_chunk = zip(u_free.unbind(2), inverse.unbind(2), kc.unbind(2), erase_scale.unbind(2),
                    write_k.unbind(2), end_decays, strict=True)
    for u_n, inv_n, k_n, scale_n, wk_n, decay in per_chunk:
        entering.append(S)
        u = u_n - inv_n @ (scale_n * (k_n @ S.transpose(-1, -2)))  # [B, H, C, V]
        writes.append(u)
        # S_end = e^{λ_{C−1}} S0 + Σ_i e^{λ_{C−1}−λ_i} u_i k_iᵀ (the decay folded into k)
        S = (S if decay is None else decay * S) + u.transpose(-1, -2) @ wk_n
    # Outputs of all chunks at once: O = (e^{λ⁻} ⊙ Q) S0ᵀ + M U.
    S_in = torch.stack(entering, dim=2)  # [B, H, N, V, K]
    read_q = qc if read_decay is None else qc * read_decay
    o = read_q @ S_in.transpose(-1, -2) + qk_decay @ torch.stack(writes, dim=2)
    return o.reshape(B, H, N * C, Vd)[:, :, :T], S


def check_gates(
    beta: torch.Tensor, alpha: torch.Tensor | None = None, erase: torch.Tensor | None = None
) -> None:
    """Raise a ValueError unless every β_t, β^e_t ∈ [0, 1] and every α_t ∈ (0, 1] (NaN is out of
    range)."""
    for name, gate in (("beta", beta), ("erase", erase)):
        if gate is not None and not bool(((gate >= 0) & (gate <= 1)).all()):
            raise ValueError(
                f"{name} must lie in [0, 1]; got min {gate.min().item()}, max {gate.max().item()}"
            )
    if alpha is not None and not bool(((alpha > 0) & (alpha <= 1)).all()):
        raise ValueError(f"alpha must lie in (0, 1]; got min {alpha.min().item()}, max {alpha.max().item()}")


def delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    chunk_size: int = 64,
    backend: str = "auto",
    validate: bool = False,
    erase: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training-path delta rule. backend: "auto" | "chunked" | "recurrent" | "fla".

    validate=True also checks the gates' ranges, β, β^e ∈ [0, 1] and α ∈ (0, 1] (NaN fails),
    raising a ValueError: a host sync, so it is off on the hot path and meant for user-facing
    calls. "auto" uses flash-linear-attention where `ops.delta_rule_fla.select_backend` says it
    can run this call (CUDA, fla installed, bf16/fp16, K ≤ 256 after padding), else the chunked
    form, warning once per reason when fla is installed but cannot take the call.
    fla's kernel has a single β for writing and erasing, so a call with an `erase` tensor
    (additive or decoupled writes) never runs on it: "auto" falls back to the chunked form (with
    a one-time warning where fla would otherwise have run) and an explicit "fla" is a ValueError.
    Returns (o [B, H, T, V], S_T [B, H, V, K]).
    """
    from .delta_rule_fla import delta_rule_fla, resolve_backend, warn_once

    if validate:
        check_gates(beta, alpha, erase)
    requested, backend = backend, resolve_backend(backend, q, v)
    if backend == "fla" and erase is not None:
        if requested == "fla":
            raise ValueError("backend='fla' cannot run this call: fla has no separate erase strength")
        warn_once("delta_rule: falling back to the chunked form: fla has no separate erase strength")
        backend = "chunked"
    if backend == "chunked":
        return delta_rule_chunked(q, k, v, beta, alpha, initial_state, chunk_size, erase)
    if backend == "recurrent":
        return delta_rule_recurrent(q, k, v, beta, alpha, initial_state, erase)
    return delta_rule_fla(q, k, v, beta, alpha, initial_state)
