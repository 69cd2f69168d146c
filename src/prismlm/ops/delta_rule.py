"""The gated delta rule with a rectangular per-head state and a pre-write read.

Per (batch, head), with keys/queries of width K (= d_φ), values of width V (= d_v), state
S ∈ R^{V×K} (S_0 given or zero), write strength β_t and decay α_t ∈ (0, 1] (α ≡ 1 when absent):

    o_t = S_{t-1} q_t                                  read BEFORE the write of step t
    u_t = β_t (v_t − α_t S_{t-1} k_t)                  delta-rule write vector
    S_t = α_t S_{t-1} + u_t k_tᵀ  =  α_t S_{t-1}(I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ

Token t never sees its own (k_t, v_t) through the state. Three implementations share this
definition:

* `delta_rule_recurrent` — the definition as a plain loop over t (the reference).
* `delta_rule_chunked`   — the chunkwise-parallel WY/UT form (training path, autograd).
* `delta_rule_step`      — one token, for constant-memory decoding.

`delta_rule` dispatches: flash-linear-attention's kernel on CUDA when installed, else chunked.
Layout is head-major: q, k [B, H, T, K]; v [B, H, T, V]; beta, alpha [B, H, T].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# α is clamped before its log so that decay ratios stay finite (exp of differences of logs).
_MIN_DECAY = 1e-6


def _check_shapes(q, k, v, beta, alpha, initial_state) -> None:
    if q.dim() != 4 or k.shape != q.shape:
        raise ValueError(f"q and k must both be [B, H, T, K]; got {tuple(q.shape)}, {tuple(k.shape)}")
    B, H, T, _ = q.shape
    if v.dim() != 4 or v.shape[:3] != (B, H, T):
        raise ValueError(f"v must be [B, H, T, V] matching q's [B, H, T]; got {tuple(v.shape)}")
    if beta.shape != (B, H, T):
        raise ValueError(f"beta must be [B, H, T] = {(B, H, T)}; got {tuple(beta.shape)}")
    if alpha is not None and alpha.shape != (B, H, T):
        raise ValueError(f"alpha must be [B, H, T] = {(B, H, T)}; got {tuple(alpha.shape)}")
    if initial_state is not None and initial_state.shape != (B, H, v.shape[-1], q.shape[-1]):
        raise ValueError(
            f"initial_state must be [B, H, V, K] = {(B, H, v.shape[-1], q.shape[-1])}; "
            f"got {tuple(initial_state.shape)}"
        )


def delta_rule_recurrent(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: the recurrence above, one token at a time.

    Returns (o [B, H, T, V], S_T [B, H, V, K]).
    """
    _check_shapes(q, k, v, beta, alpha, initial_state)
    B, H, T, K = q.shape
    S = q.new_zeros(B, H, v.shape[-1], K) if initial_state is None else initial_state
    outputs = []
    for t in range(T):
        q_t, k_t, v_t, b_t = q[:, :, t], k[:, :, t], v[:, :, t], beta[:, :, t, None]
        a_t = 1.0 if alpha is None else alpha[:, :, t, None].clamp_min(_MIN_DECAY)
        outputs.append(torch.einsum("bhvk,bhk->bhv", S, q_t))
        u_t = b_t * (v_t - a_t * torch.einsum("bhvk,bhk->bhv", S, k_t))
        S = (a_t[..., None] if alpha is not None else 1.0) * S + u_t[..., :, None] * k_t[..., None, :]
    return torch.stack(outputs, dim=2), S


def delta_rule_step(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None,
    state: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One decoding step. q, k: [B, H, K]; v: [B, H, V]; beta, alpha: [B, H]; state [B, H, V, K].

    Returns (o_t [B, H, V], S_t). Reads S_{t-1} with q and k in one matmul to keep the op count
    (and so the per-token latency on CPU) low.
    """
    # [q; k] @ Sᵀ: [B, H, 2, V]. This orientation is ~3× faster on CPU than S @ [q k].
    reads = torch.stack((q, k), dim=-2) @ state.transpose(-1, -2)
    o, s_k = reads.unbind(-2)
    if alpha is None:
        u = beta[..., None] * (v - s_k)
        new_state = torch.addcmul(state, u[..., :, None], k[..., None, :])
    else:
        a = alpha.clamp_min(_MIN_DECAY)[..., None]
        u = beta[..., None] * (v - a * s_k)
        new_state = torch.addcmul(a[..., None] * state, u[..., :, None], k[..., None, :])
    return o, new_state


def _diagonal_blocks(A: torch.Tensor, size: int, row_offset: int = 0) -> torch.Tensor:
    """Blocks (r + row_offset, r) of side `size` along the diagonal of A: [..., n, size, size]."""
    n = A.shape[-1] // size
    grid = A.reshape(*A.shape[:-2], n, size, n, size)
    if row_offset:
        grid = grid[..., row_offset::2, :, 0::2, :]
    return torch.diagonal(grid, dim1=-4, dim2=-2).movedim(-1, -3)


def _unit_lower_inverse(A: torch.Tensor, base: int = 16) -> torch.Tensor:
    """(I + A)^{-1} for strictly lower-triangular A: [..., C, C].

    Diagonal blocks of side `base` are inverted with the nilpotent product form
    (I + A)^{-1} = Π_i (I + (−A)^{2^i}); neighbouring inverses are then merged level by level,
    [[I + A11, 0], [A21, I + A22]]^{-1} = [[X11, 0], [−X22 A21 X11, X22]]. All blocks of a
    level are one batched matmul, so the cost is O(C² · base) instead of a solve's many small
    kernels, and gradients flow through plain matmuls. Exact up to rounding.
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
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunkwise-parallel WY/UT form of the same recurrence (exact, differentiable).

    Within a chunk of length C (positions i, j; λ_i = Σ_{m≤i} log α_m chunk-locally, λ_{-1} = 0):
        A_ij = β_i (k_i·k_j) e^{λ_i−λ_j}  (j < i)          strictly lower triangular
        [Ũ | W] = (I + A)^{-1} [β V | β e^{λ} K]           unit-triangular inverse per chunk
        U = Ũ − W S0ᵀ                                      true write vectors (needs S0)
        O_i = e^{λ_{i−1}} S0 q_i + Σ_{j<i} e^{λ_{i−1}−λ_j} (q_i·k_j) u_j
        S_end = e^{λ_{C−1}} S0 + Σ_i e^{λ_{C−1}−λ_i} u_i k_iᵀ
    Everything but S0 → S_end is computed for all chunks at once; only that short recursion runs
    sequentially. Decay ratios are exponentials of log differences, masked before the exp, so
    nothing overflows or underflows at any length. The tail chunk is padded with β = 0, α = 1,
    k = q = 0, which leaves the state untouched.

    Returns (o [B, H, T, V], S_T [B, H, V, K]).
    """
    _check_shapes(q, k, v, beta, alpha, initial_state)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
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
    idx = torch.arange(C, device=q.device)
    strictly_lower = idx[:, None] > idx[None, :]

    if alpha is None:
        kk = kc @ kc.transpose(-1, -2)
        A = (bc[..., None] * kk).masked_fill(~strictly_lower, 0.0)
        rhs = torch.cat((bc[..., None] * vc, bc[..., None] * kc), dim=-1)
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
        A = bc[..., None] * kk * diff.exp()
        rhs = torch.cat((bc[..., None] * vc, (bc * lam.exp())[..., None] * kc), dim=-1)
        read_diff = (lam_prev[..., :, None] - lam[..., None, :]).masked_fill(
            ~strictly_lower, float("-inf")
        )
        qk_decay = (qc @ kc.transpose(-1, -2)) * read_diff.exp()
        read_decay = lam_prev.exp()[..., None]  # [B, H, N, C, 1]
        end_decay = lam[..., -1].exp()  # [B, H, N]
        write_decay = (lam[..., -1:] - lam).exp()[..., None]  # [B, H, N, C, 1]

    solved = _unit_lower_inverse(A) @ rhs
    u_free, w = solved[..., :Vd], solved[..., Vd:]  # Ũ [.., C, V], W [.., C, K]

    # Only the state recursion is sequential: per chunk, the true write vectors U = Ũ − W S0ᵀ
    # and the state update. Chunk tensors are split with unbind (the backward of indexing one
    # chunk out of a big tensor zero-fills the whole tensor, once per chunk).
    write_k = kc if write_decay is None else kc * write_decay
    end_decays = [None] * N if end_decay is None else end_decay[..., None, None].unbind(2)
    S = q.new_zeros(B, H, Vd, K) if initial_state is None else initial_state
    entering, writes = [], []
    per_chunk = zip(u_free.unbind(2), w.unbind(2), write_k.unbind(2), end_decays, strict=True)
    for u_n, w_n, k_n, decay in per_chunk:
        entering.append(S)
        u = u_n - w_n @ S.transpose(-1, -2)  # [B, H, C, V]
        writes.append(u)
        # S_end = e^{λ_{C−1}} S0 + Σ_i e^{λ_{C−1}−λ_i} u_i k_iᵀ (the decay folded into k)
        S = (S if decay is None else decay * S) + u.transpose(-1, -2) @ k_n
    # Outputs of all chunks at once: O = (e^{λ⁻} ⊙ Q) S0ᵀ + M U.
    S_in = torch.stack(entering, dim=2)  # [B, H, N, V, K]
    read_q = qc if read_decay is None else qc * read_decay
    o = read_q @ S_in.transpose(-1, -2) + qk_decay @ torch.stack(writes, dim=2)
    o = o.reshape(B, H, N * C, Vd)[:, :, :T]
    return o, S


def _fla_available(q: torch.Tensor) -> bool:
    if not q.is_cuda:
        return False
    try:
        import fla.ops.gated_delta_rule  # noqa: F401
    except ImportError:
        return False
    return True


def delta_rule_fla(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """flash-linear-attention's `chunk_gated_delta_rule`, adapted to the pre-write read.

    fla reads after the write (o'_t = S_t q_t). Shifting the queries one step left
    (q'_t = q_{t+1}, q'_{T−1} = 0) and the outputs one step right gives o_t = o'_{t−1} for t ≥ 1,
    and o_0 = S_0 q_0 is computed directly. fla's state is [K, V]; ours is [V, K]. Key widths are
    zero-padded to a multiple of 16 (exact: zero coordinates change no dot product).
    """
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule

    _check_shapes(q, k, v, beta, alpha, initial_state)
    B, H, T, K = q.shape
    K_pad = -(-K // 16) * 16
    if K_pad != K:
        q, k = F.pad(q, (0, K_pad - K)), F.pad(k, (0, K_pad - K))
    q_shift = F.pad(q[:, :, 1:], (0, 0, 0, 1))
    g = torch.zeros_like(beta) if alpha is None else torch.log(alpha.clamp_min(_MIN_DECAY))
    s0 = None
    if initial_state is not None:
        s0 = F.pad(initial_state, (0, K_pad - K)).transpose(-1, -2).contiguous().float()

    def btd(x: torch.Tensor) -> torch.Tensor:  # [B, H, T, ...] -> [B, T, H, ...]
        return x.transpose(1, 2).contiguous()

    o_post, s_end = chunk_gated_delta_rule(
        btd(q_shift), btd(k), btd(v), g=btd(g), beta=btd(beta), scale=1.0,
        initial_state=s0, output_final_state=True, use_qk_l2norm_in_kernel=False,
    )
    o_post = o_post.transpose(1, 2)
    if initial_state is None:
        o_first = torch.zeros_like(o_post[:, :, :1])
    else:
        o_first = (initial_state @ q[:, :, 0, :K, None]).transpose(-1, -2)
    o = torch.cat((o_first.to(o_post.dtype), o_post[:, :, :-1]), dim=2)
    return o, s_end.transpose(-1, -2)[..., :K].to(q.dtype)


def delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    alpha: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    chunk_size: int = 64,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training-path delta rule. backend: "auto" | "chunked" | "recurrent" | "fla".

    "auto" uses flash-linear-attention on CUDA when it is installed, else the chunked form.
    Returns (o [B, H, T, V], S_T [B, H, V, K]).
    """
    if backend == "auto":
        backend = "fla" if _fla_available(q) else "chunked"
    if backend == "chunked":
        return delta_rule_chunked(q, k, v, beta, alpha, initial_state, chunk_size)
    if backend == "recurrent":
        return delta_rule_recurrent(q, k, v, beta, alpha, initial_state)
    if backend == "fla":
        return delta_rule_fla(q, k, v, beta, alpha, initial_state)
    raise ValueError(f"unknown delta-rule backend {backend!r}")
