"""The slot tape of one block from the raw writes of the blocks at and below it, fused.

Block b's view of PRISM's tape (`layers.memory_tape`) applies, at every step t, the NTM writes of
blocks 0..b in block order to the previous step's tape:

    M_t = W_{b,t} ∘ … ∘ W_{0,t} (M_{t−1}),
    W_{l,t}(M) = M + g ⊗ (a − e ⊙ M),   g = g_{l,t} ∈ [0, 1]^S, e = e_{l,t} ∈ (0, 1)^d, a = a_{l,t}

(g ⊗ v: the [S, d] outer product, g_s v_{s,d} with v broadcast over slots where it is [d]; the
line above is M ⊙ (1 − g eᵀ) + g aᵀ rearranged). A write is a *write triple* (g, e, a) of
shapes [Bt, T, S], [Bt, T, d], [Bt, T, d]; a token not routed to block l has g = 0 (identity).

Two forms, equal up to rounding (tests/ops/test_tape_writes.py):

* `tape_from_writes_reference` — the obvious one: form each write's maps A = 1 − g eᵀ, B = g aᵀ
  ([Bt, T, S, d] each), compose them over blocks, run `tape_scan`. Autograd does the rest.
* `tape_from_writes` — never forms a [Bt, T, S, d] map: a loop over t applies the rank-1 updates
  to one [Bt, S, d] state (cache-resident), and a hand-written backward runs the adjoint loop
  backwards in time, recomputing the intermediate states of step t from M_{t−1}:

      for a sub-step M' = M + g ⊗ (a − e ⊙ M) and G' = ∂L/∂M':
      ∂L/∂g_s = Σ_d G'_{sd} (a_d − e_d M_{sd}),  ∂L/∂a_d = Σ_s g_s G'_{sd},
      ∂L/∂e_d = −Σ_s g_s G'_{sd} M_{sd},        ∂L/∂M = G' − g ⊗ (e ⊙ G')

Both return (M [Bt, T, S, d], mean over slots of M [Bt, T, d]); the fused form folds the mean's
gradient into its loop instead of broadcasting a full-size tensor. m0: [S, d] or [Bt, S, d].
Computation is fp32 (fp64 for fp64 inputs); outputs come back in the inputs' promoted dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.autograd.function import once_differentiable

from .numerics import cast, compute_dtype
from .tape_scan import compose_maps, tape_scan, write_maps

WriteTriple = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _check(writes: Sequence[WriteTriple], m0: torch.Tensor) -> tuple[torch.dtype, torch.dtype]:
    """Validate shapes; return (output dtype, compute dtype)."""
    if not writes:
        raise ValueError("need at least one write triple (g, e, a)")
    g0 = writes[0][0]
    if g0.dim() != 3:
        raise ValueError(f"g must be [Bt, T, S], got {tuple(g0.shape)}")
    bt, t, s = g0.shape
    d = m0.shape[-1]
    for i, (g, e, a) in enumerate(writes):
        if g.shape != (bt, t, s) or e.shape != (bt, t, d) or a.shape != (bt, t, d):
            raise ValueError(
                f"write {i}: need g [{bt}, {t}, {s}], e and a [{bt}, {t}, {d}], got "
                f"{tuple(g.shape)}, {tuple(e.shape)}, {tuple(a.shape)}"
            )
    if m0.shape[-2:] != (s, d) or m0.dim() not in (2, 3):
        raise ValueError(f"m0 must be [S={s}, d={d}] or [Bt, {s}, {d}], got {tuple(m0.shape)}")
    flat = [x for w in writes for x in w]
    out = m0.dtype
    for x in flat:
        out = torch.promote_types(out, x.dtype)
    return out, compute_dtype(m0, *flat)


def tape_from_writes_reference(
    writes: Sequence[WriteTriple], m0: torch.Tensor, chunk: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compose the writes' full maps, then `tape_scan` (with `chunk`). -> (M, mean_slots(M))."""
    out_dtype, dt = _check(writes, m0)
    maps = None
    for g, e, a in writes:
        g, e, a = cast(dt, g, e, a)
        maps = compose_maps(maps, write_maps(g, e, a, torch.ones_like(g[..., 0])))
    tape = tape_scan(maps[0], maps[1], m0.to(dt), chunk=chunk)
    return tape.to(out_dtype), tape.mean(-2).to(out_dtype)


def tape_from_writes(
    writes: Sequence[WriteTriple], m0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fused form (module docstring). -> (M [Bt, T, S, d], mean_slots(M) [Bt, T, d])."""
    out_dtype, dt = _check(writes, m0)
    g0 = writes[0][0]
    if g0.shape[1] == 0:
        empty = g0.new_zeros(*g0.shape, m0.shape[-1], dtype=out_dtype)
        return empty, empty.mean(-2)
    flat = cast(dt, *[x for w in writes for x in w])
    tape, mean = _FusedTape.apply(m0.to(dt), *flat)
    return tape.to(out_dtype), mean.to(out_dtype)


def _triples(flat: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, ...]]:
    return [tuple(flat[i : i + 3]) for i in range(0, len(flat), 3)]


def _substep(m, g, e, a, tmp, out):
    """out = m + g ⊗ (a − e ⊙ m) for one step; tmp receives a − e ⊙ m. All [Bt, S, d]."""
    torch.mul(m, e[:, None, :], out=tmp)
    torch.sub(a[:, None, :], tmp, out=tmp)
    return torch.addcmul(m, g[:, :, None], tmp, out=out)


class _FusedTape(torch.autograd.Function):
    """apply(m0, g_0, e_0, a_0, g_1, …) -> (M, mean_slots(M)); inputs contiguous or not."""

    @staticmethod
    def forward(ctx, m0, *flat):
        writes = _triples(flat)
        g0 = writes[0][0]
        bt, t, s = g0.shape
        d = m0.shape[-1]
        out = g0.new_empty(bt, t, s, d)
        tmp = g0.new_empty(bt, s, d)
        scratch = [g0.new_empty(bt, s, d) for _ in writes[:-1]]
        prev = m0.expand(bt, s, d)
        for i in range(t):
            m = prev
            for j, (g, e, a) in enumerate(writes):
                dst = out[:, i] if j == len(writes) - 1 else scratch[j]
                m = _substep(m, g[:, i], e[:, i], a[:, i], tmp, dst)
            prev = m
        ctx.save_for_backward(m0, out, *flat)
        return out, out.mean(-2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_tape, grad_mean):
        m0, out, *flat = ctx.saved_tensors
        writes = _triples(flat)
        bt, t, s, d = out.shape
        # Per-step gradients of every write input, filled in place.
        grads = [tuple(torch.empty_like(x) for x in w) for w in writes]
        scratch = [out.new_empty(bt, s, d) for _ in writes[1:]]  # states entering writes 1..
        tmps = [out.new_empty(bt, s, d) for _ in writes]  # a − e ⊙ M of each write
        work = out.new_empty(bt, s, d)
        carry = out.new_zeros(bt, s, d)  # ∂L/∂M_t through step t + 1
        mean_scale = 1.0 / s
        for i in range(t - 1, -1, -1):
            # Recompute the states of step i from M_{i−1}.
            states = [m0.expand(bt, s, d) if i == 0 else out[:, i - 1]]
            for j, (g, e, a) in enumerate(writes):
                if j < len(writes) - 1:
                    states.append(_substep(states[j], g[:, i], e[:, i], a[:, i], tmps[j], scratch[j]))
                else:
                    torch.mul(states[j], e[:, i, None, :], out=tmps[j])
                    torch.sub(a[:, i, None, :], tmps[j], out=tmps[j])
            # G = ∂L/∂M_i: the direct gradient, the slot mean's, and what step i + 1 sent back.
            big = carry.add_(grad_tape[:, i])
            big.add_(grad_mean[:, i, None, :], alpha=mean_scale)
            for j in range(len(writes) - 1, -1, -1):
                g, e, _ = (x[:, i] for x in writes[j])
                dg, de, da = (x[:, i] for x in grads[j])
                torch.mul(big, tmps[j], out=work)
                torch.sum(work, -1, out=dg)
                gw = g[:, None, :]
                da.copy_(torch.bmm(gw, big).squeeze(1))
                torch.mul(big, states[j], out=work)
                de.copy_(torch.bmm(gw, work).squeeze(1)).neg_()
                torch.mul(big, e[:, None, :], out=work)
                big.addcmul_(g[:, :, None], work, value=-1.0)
            carry = big
        grad_m0 = carry.sum_to_size(m0.shape) if ctx.needs_input_grad[0] else None
        flat_grads = [x for w in grads for x in w]
        return (grad_m0, *flat_grads)
