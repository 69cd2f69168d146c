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
    d = writes[0][1].shape[-1]
    if m0.dim() not in (2, 3) or m0.shape[-2:] != (s, d):
        raise ValueError(f"m0 must be [S={s}, d={d}] or [Bt, {s}, {d}], got {tuple(m0.shape)}")
    for i, (g, e, a) in enumerate(writes):
        if g.shape != (bt, t, s) or e.shape != (bt, t, d) or a.shape != (bt, t, d):
            raise ValueError(
                f"write {i}: need g [{bt}, {t}, {s}], e and a [{bt}, {t}, {d}], got "
                f"{tuple(g.shape)}, {tuple(e.shape)}, {tuple(a.shape)}"
            )
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


def _steps(writes: list[tuple[torch.Tensor, ...]]) -> list[list[tuple[torch.Tensor, ...]]]:
    """Per write, per step: (g [Bt, S, 1], e [Bt, 1, d], a [Bt, 1, d]) views, made by one unbind
    per tensor (indexing inside the loop would cost a Python call per step and tensor)."""
    return [
        list(zip(g[..., None].unbind(1), e[:, :, None].unbind(1), a[:, :, None].unbind(1), strict=True))
        for g, e, a in writes
    ]


def _substep(m, g, e, a, tmp, out):
    """out = m + g ⊗ (a − e ⊙ m); tmp receives a − e ⊙ m. m, tmp, out: [Bt, S, d]; g [Bt, S, 1],
    e and a [Bt, 1, d]."""
    torch.mul(m, e, out=tmp)
    torch.sub(a, tmp, out=tmp)
    return torch.addcmul(m, g, tmp, out=out)


def _bmm(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Batched matmul over the leading [Bt, T] dims: [Bt, T, i, j] @ [Bt, T, j, k]."""
    return torch.bmm(x.flatten(0, 1), y.flatten(0, 1)).view(*x.shape[:2], x.shape[2], y.shape[3])


class _FusedTape(torch.autograd.Function):
    """apply(m0, g_0, e_0, a_0, g_1, …) -> (M, mean_slots(M))."""

    @staticmethod
    def forward(ctx, m0, *flat):
        writes = _triples(flat)
        bt, t, s = writes[0][0].shape
        d = m0.shape[-1]
        out = m0.new_empty(bt, t, s, d)
        tmp = m0.new_empty(bt, s, d)
        scratch = [m0.new_empty(bt, s, d) for _ in writes[:-1]]
        steps = _steps(writes)
        m = m0.expand(bt, s, d)
        for i, out_i in enumerate(out.unbind(1)):
            for j, step in enumerate(steps):
                m = _substep(m, *step[i], tmp, out_i if j == len(steps) - 1 else scratch[j])
        ctx.save_for_backward(m0, out, *flat)
        return out, out.mean(-2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_tape, grad_mean):
        m0, out, *flat = ctx.saved_tensors
        writes = _triples(flat)
        bt, t, s, d = out.shape
        n_w = len(writes)
        steps = _steps(writes)
        # ∂L/∂(g, e, a) of every write, filled one step at a time through unbound views.
        grads = [tuple(torch.empty_like(x) for x in w) for w in writes]
        grad_steps = [[x.unbind(1) for x in w] for w in grads]
        tmps = [out.new_empty(bt, s, d) for _ in writes]  # a − e ⊙ M of each write
        scratch = [out.new_empty(bt, s, d) for _ in writes[1:]]  # states entering writes 1..
        work = out.new_empty(bt, s, d)
        big = out.new_empty(bt, s, d)  # the running ∂L/∂(state)
        carry = out.new_zeros(bt, s, d)  # ∂L/∂M_i sent back by step i + 1
        outs, grads_out = out.unbind(1), grad_tape.unbind(1)
        means = (grad_mean[:, :, None] / s).unbind(1)
        for i in range(t - 1, -1, -1):
            states = [m0.expand(bt, s, d) if i == 0 else outs[i - 1]]
            for j in range(n_w):  # recompute this step's intermediate states and a − e ⊙ M
                if j < n_w - 1:
                    states.append(_substep(states[j], *steps[j][i], tmps[j], scratch[j]))
                else:
                    _, e, a = steps[j][i]
                    torch.sub(a, torch.mul(states[j], e, out=tmps[j]), out=tmps[j])
            torch.add(grads_out[i], means[i], out=big).add_(carry)
            for j in range(n_w - 1, -1, -1):
                g, e, _ = steps[j][i]
                dg, de, da = (x[i] for x in grad_steps[j])
                # Elementwise products and sums, not bmm: a [Bt, 1, S] @ [Bt, S, d] bmm this
                # small loops over the batch on CPU and costs more than the arithmetic.
                torch.sum(torch.mul(big, tmps[j], out=work), -1, out=dg)
                torch.sum(torch.mul(big, g, out=work), 1, out=da)
                torch.sum(torch.mul(big, states[j], out=work).mul_(g), 1, out=de).neg_()
                big.addcmul_(g, torch.mul(big, e, out=work), value=-1.0)
            big, carry = carry, big
        grad_m0 = carry.sum_to_size(m0.shape) if ctx.needs_input_grad[0] else None
        return (grad_m0, *(x for w in grads for x in w))
