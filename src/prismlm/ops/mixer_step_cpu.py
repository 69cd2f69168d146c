"""The Prizma mixer's decode step as two fused CPU kernels (numba), for eager decoding on CPU.

On CPU one decoded token is bound by the number of tensor ops, not by FLOPs: the torch form of
the mixer's step issues ~43 ops per layer at ~5–10 µs each (dispatch, allocation, cold caches)
around a few hundred kFLOP of work. These kernels do the same maths in two calls, each one pass
over its inputs, in the order the torch form composes it:

`conv_silu_step`   x = SiLU(b + Σ_i w_i ⊙ x̂_{t−k+1+i}), the ring of the k−1 previous inputs
                   shifted in place.
`mixer_core_step`  from the fused projection row z = [q_0 k_0 q_1 k_1 … | v | gate logits]:
                   q, k ← q/(‖q‖+ε), k/(‖k‖+ε);  φ = l2n([x ; z_I ⊙ z_J]) (quad2; z = x P for
                   quad2_lowrank, φ = x for none);  o = S φ(q);  u = β_cap (β v − β^e α S φ(k));
                   S ← α S + u φ(k)ᵀ (each row of S read once, written once);  o ← RMSNorm(o)
                   (state_norm);  the window ring gets (k, v) at `slot`;  o += softmax over the
                   `n_valid` valid slots of q·k_j/√d_h, applied to v_j.

The torch form (`PrizmaMixer.step` with the kernels off, built on `delta_step_` and
`decode_features`) stays the reference and the path for everything these kernels do not cover
(autograd, autocast, GPU, rand_linear, `torch.compile`); tests hold the two equal. fp32 sums here
run in loop order rather than MKL's blocking: results agree to float rounding, not bitwise.

`ops.cpu_kernels.cpu_kernels(False)` turns them off for a block (benchmarks time both paths).
"""

from __future__ import annotations

import math

import numpy as np

from .cpu_kernels import jit

FEATURE_CODES = {"quad2": 0, "quad2_lowrank": 1, "none": 2}  # maps the core kernel computes


@jit
def conv_silu_step(x, ring, taps, bias, out):  # pragma: no cover - compiled by numba
    """x [B, D], ring [B, k−1, D] (shifted in place), taps [k, D], bias [D] -> out [B, D]."""
    B, D = x.shape
    km1 = ring.shape[1]
    for b in range(B):  # channel loops innermost: they vectorise
        for c in range(D):
            out[b, c] = bias[c] + x[b, c] * taps[km1, c]
        for i in range(km1):
            for c in range(D):
                out[b, c] += ring[b, i, c] * taps[i, c]
        for c in range(D):
            out[b, c] = out[b, c] / (1.0 + math.exp(-out[b, c]))
        for i in range(km1 - 1):
            for c in range(D):
                ring[b, i, c] = ring[b, i + 1, c]
        if km1 > 0:
            for c in range(D):
                ring[b, km1 - 1, c] = x[b, c]


@jit
def _features(x, f, code, pairs, lift, zbuf):  # pragma: no cover - compiled by numba
    """f ← φ(x) for one unit row x [d_h] (module docstring), f [d_φ]."""
    dh = x.shape[0]
    K = f.shape[0]
    if code == 2:  # none: φ(x) = x as given (already unit up to ε, not renormalised)
        for i in range(dh):
            f[i] = x[i]
        return
    else:
        r = zbuf.shape[0]
        if code == 1:
            for j in range(r):
                acc = 0.0
                for i in range(dh):
                    acc += x[i] * lift[i, j]
                zbuf[j] = acc
        else:
            for j in range(r):
                zbuf[j] = x[j]
        for i in range(dh):
            f[i] = x[i]
        n2 = pairs.shape[0] // 2
        for p in range(n2):
            f[dh + p] = zbuf[pairs[p]] * zbuf[pairs[n2 + p]]
    sq = f[0] * f[0]  # accumulate in f's dtype (a float literal would promote every term)
    for i in range(1, K):
        sq += f[i] * f[i]
    inv = 1.0 / (math.sqrt(sq) + 1e-6)
    for i in range(K):
        f[i] *= inv


@jit
def mixer_core_step(z, S, wk, wv, out, code, pairs, lift, cap, alpha_col, erase_col, additive,
                    norm_gain, norm_eps, slot, n_valid):  # pragma: no cover - compiled by numba
    """One token of the mixer after its input projection (module docstring).

    z [B, 3d + G]; S [B, H, d_h, d_φ], wk/wv [B, H, w, d_h] updated in place; out [B, d] gets o.
    alpha_col / erase_col: first column of the α / β^e logits in z (−1: none); additive: β^e = 0;
    norm_gain [d_h] with norm_eps > 0 applies state_norm; slot < 0: no window.
    """
    B = z.shape[0]
    H, V, K = S.shape[1], S.shape[2], S.shape[3]
    dh = V
    d = H * dh
    dt = z.dtype
    q = np.empty(dh, dt)
    k = np.empty(dh, dt)
    fq = np.empty(K, dt)
    fk = np.empty(K, dt)
    zbuf = np.empty(lift.shape[1] if code == 1 else dh, dt)
    scores = np.empty(max(wk.shape[2], 1), dt)
    cast = np.zeros(3, dt)  # scalars written here take the arrays' dtype ([0] stays a zero)
    scale = 1.0 / math.sqrt(dh)
    for b in range(B):
        for h in range(H):
            base = 2 * dh * h
            sq = 0.0
            sk = 0.0
            for i in range(dh):
                sq += z[b, base + i] * z[b, base + i]
                sk += z[b, base + dh + i] * z[b, base + dh + i]
            rq = 1.0 / (math.sqrt(sq) + 1e-6)
            rk = 1.0 / (math.sqrt(sk) + 1e-6)
            for i in range(dh):
                q[i] = z[b, base + i] * rq
                k[i] = z[b, base + dh + i] * rk
            _features(q, fq, code, pairs, lift, zbuf)
            _features(k, fk, code, pairs, lift, zbuf)
            beta = 1.0 / (1.0 + math.exp(-z[b, 3 * d + h]))
            alpha = 1.0
            if alpha_col >= 0:
                alpha = max(0.5 + 0.5 / (1.0 + math.exp(-z[b, alpha_col + h])), 1e-6)
            erase = beta
            if additive:
                erase = 0.0
            elif erase_col >= 0:
                erase = 1.0 / (1.0 + math.exp(-z[b, erase_col + h]))
            v0 = 2 * d + dh * h
            o0 = dh * h
            cast[1] = alpha
            a = cast[1]  # α in the state's dtype: the row loops below stay in it (and vectorise)
            for r in range(V):  # one pass over row r of S: both reads, then the write
                o = cast[0]
                s = cast[0]
                for i in range(K):
                    o += S[b, h, r, i] * fq[i]
                    s += S[b, h, r, i] * fk[i]
                cast[2] = cap * (beta * z[b, v0 + r] - erase * alpha * s)
                u = cast[2]
                for i in range(K):
                    S[b, h, r, i] = a * S[b, h, r, i] + u * fk[i]
                out[b, o0 + r] = o
            if norm_eps > 0.0:
                ms = 0.0
                for r in range(V):
                    ms += out[b, o0 + r] * out[b, o0 + r]
                inv = 1.0 / math.sqrt(ms / V + norm_eps)
                for r in range(V):
                    out[b, o0 + r] = out[b, o0 + r] * inv * norm_gain[r]
            if slot < 0:
                continue
            for i in range(dh):
                wk[b, h, slot, i] = k[i]
                wv[b, h, slot, i] = z[b, v0 + i]
            top = -math.inf
            for j in range(n_valid):
                acc = cast[0]
                for i in range(dh):
                    acc += q[i] * wk[b, h, j, i]
                scores[j] = acc * scale
                top = max(top, scores[j])
            total = 0.0
            for j in range(n_valid):
                scores[j] = math.exp(scores[j] - top)
                total += scores[j]
            for i in range(dh):
                acc = cast[0]
                for j in range(n_valid):
                    acc += scores[j] * wv[b, h, j, i]
                out[b, o0 + i] += acc / total
