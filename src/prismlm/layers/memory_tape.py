"""The shared memory tape and the memory expert's read/write head — causal and slot-addressed.

One tape M ∈ R^{S × d_mem} (learned initial contents M_init) is threaded through every block and
every time step of a forward pass. Order of events, identical in `forward` and in decoding:

    for t = 1..T:  for block b = 0..L−1:
        block b's memory expert writes (if token t was routed to it), then reads

Block b at time t therefore sees the writes of blocks ≤ b at times ≤ t (its own write at t
included: write-before-read), and nothing from later positions. Writes of blocks above b are not
visible to block b — allowing them at times < t would make every layer wait for the full stack at
t − 1 and kill the parallel scan. So each block b keeps its own view
M^{≤b}_t = A^{≤b}_t ⊙ M^{≤b}_{t−1} + B^{≤b}_t, where (A^{≤b}_t, B^{≤b}_t) is the composition of
the time-t writes of blocks 0..b in block order. A write in block 1 at time t is readable by
block 2 at t (and after), and by block 1 at t + 1.

Write (addressing depends only on the token, not on the read, so one scan per block suffices):
    w = softmax(W_addr x) ∈ Δ^S,  e = σ(W_e x),  a = W_v x,  g = σ(W_w x) · route weight
    M ← M ⊙ (1 − g w eᵀ) + g w aᵀ                       (different tokens address different slots)
Read (content-addressed, after the write):
    r = softmax(q·Mᵀ / √d_mem) M,  q = W_q x,  out = W_out r

The router of block b is given mean_slots of the tape visible *below* it (M^{≤b−1}_t, or M_init
for block 0) — the only tape known before block b's own routing decides its writes.

Seeding (knowledge written into memory before the first token): `seeded_init` blends an external
tape into M_init, M_0 = (1 − β)·M_init + β·M_seed, either shared by the batch ([S, d_mem]) or one
per row ([B, S, d_mem]); β = 0 is exactly the unseeded tape. `MemoryExpert.fact_maps` is the
write path applied to fact vectors instead of tokens (the text → slots encoder of `memory.seed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..ops.tape_scan import content_read, write_maps
from ..ops.tape_writes import tape_from_writes, tape_from_writes_reference
from .experts import Expert, ExpertContext

# Size of one [B, T, S, d_mem] map from which the fused tape beats the composed maps on CPU
# (toy PRISM: 16·256·32·64 ≈ 8.4M entries, fused ≈ 3× faster; the smoke preset, 32K: ≈ 0.7×).
FUSED_MIN_ELEMENTS = 1 << 20


@dataclass
class TapeThread:
    """The tape as it travels up the stack for one forward (or one decode step).

    init: [S, d_mem] initial tape shared by the batch, or [B, S, d_mem] one per row (a seed).
    maps: the holographic expert's composed time-t maps (A, B), each [B, T, S, d_mem], or None.
    writes: the slot experts' write triples (g [B, T, S], e [B, T, d_mem], a [B, T, d_mem]) of
    the blocks so far, in block order (`ops.tape_writes`); empty before the first write.
    visible: the tape seen at the top of the blocks so far, [B, T, S, d_mem], or None (= init
    at every position); mean: its mean over slots, [B, T, d_mem], when the writer computed it.
    """

    init: torch.Tensor
    maps: tuple[torch.Tensor, torch.Tensor] | None = None
    visible: torch.Tensor | None = None
    writes: tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], ...] = ()
    mean: torch.Tensor | None = None

    def summary(self, batch: int, length: int) -> torch.Tensor:
        """mean over slots of the visible tape: [B·T, d_mem]."""
        if self.mean is not None:
            return self.mean.reshape(batch * length, -1)
        if self.visible is None:
            mean = self.init.mean(-2)  # [d_mem] or [B, d_mem]
            if mean.dim() == 1:
                return mean.expand(batch * length, mean.shape[0])
            return mean[:, None].expand(batch, length, mean.shape[-1]).reshape(batch * length, -1)
        return self.visible.mean(-2).reshape(batch * length, -1)


def seeded_init(
    init: torch.Tensor, memory: torch.Tensor | None, blend: float = 1.0, batch: int | None = None,
    full: bool = False,
) -> torch.Tensor:
    """M_0 = (1 − β)·M_init + β·M_seed: the initial tape of a seeded run.

    init: [S, d_mem] (M_init). memory: [K, d_mem] or [B, K, d_mem] with 1 ≤ K ≤ S — rows K..S−1
    of M_seed are M_init's (a partial seed leaves the other slots as trained); with `full`, K must
    be S (a holographic state has no partial form). None returns `init` itself. blend β ∈ [0, 1].
    batch: the rows of the run, checked against a batched memory's B.
    Returns [S, d_mem] or [B, S, d_mem] in init's dtype and device.
    """
    if isinstance(blend, bool) or not isinstance(blend, int | float) or not 0.0 <= blend <= 1.0:
        raise ValueError(f"blend must be a number in [0, 1], got {blend!r}")
    if memory is None:
        return init
    if not isinstance(memory, torch.Tensor):
        raise TypeError(f"memory must be a torch.Tensor, got {type(memory).__name__}")
    if not memory.is_floating_point():
        raise TypeError(f"memory must be a floating-point tensor, got dtype {memory.dtype}")
    s, d = init.shape
    rows = f"{s}" if full else f"K <= {s}"
    if memory.dim() not in (2, 3) or memory.shape[-1] != d or not 1 <= memory.shape[-2] <= s:
        raise ValueError(
            f"memory must be [{rows}, d_mem={d}] or [B, {rows}, {d}], got {tuple(memory.shape)}"
        )
    if full and memory.shape[-2] != s:
        raise ValueError(
            f"memory must hold all {s} slots of the holographic state, got {tuple(memory.shape)}"
        )
    if memory.dim() == 3 and batch is not None and memory.shape[0] != batch:
        raise ValueError(f"memory has batch size {memory.shape[0]} but the input has {batch} rows")
    if not torch.isfinite(memory).all():
        raise ValueError("memory contains NaN or inf")
    memory = memory.to(device=init.device, dtype=init.dtype)
    k = memory.shape[-2]
    if k < s:
        rest = init[k:].expand(*memory.shape[:-2], s - k, d)
        memory = torch.cat([memory, rest], dim=-2)
    return (1.0 - blend) * init + blend * memory


WRITE_ADDRESSES = ("learned", "shared", "broadcast")


def slot_keys(num_slots: int, d_mem: int) -> torch.Tensor:
    """Fixed slot keys K [S, d_mem] of the "shared" write address: rows of the DCT-II basis,
    K_sj = √2·cos(π s (j + ½) / d_mem) (row 0 = 1), orthonormal up to √d_mem when S ≤ d_mem;
    deterministic, so they need no seed and build on any device (meta included)."""
    s = torch.arange(num_slots, dtype=torch.float32)[:, None]
    j = torch.arange(d_mem, dtype=torch.float32)[None, :] + 0.5
    keys = torch.cos(math.pi * s * j / d_mem) * math.sqrt(2.0)
    keys[0] = 1.0
    return keys


class MemoryExpert(Expert):
    """Read/write head on the shared tape. x: [N, d_model] dispatched tokens -> [N, d_model].

    chunk: C ≥ 1 composes the writes' full maps and runs the two-level `tape_scan` with chunks
    of C steps (`ops.tape_writes.tape_from_writes_reference`). None picks by size: on CPU the
    fused tape (`tape_from_writes`, which never forms a map) once a [B, T, S, d_mem] map would
    hold FUSED_MIN_ELEMENTS entries — there memory traffic dominates — and otherwise (small
    tapes, or accelerators, where per-step launches dominate) the composed maps with
    C = ⌈√T⌉, the fewest sequential steps.
    Needs `ctx` (positions, route weights, thread, decode state). Puts into ctx.outputs:
    "thread" (updated), "state" (this block's tape at the last position, [B, S, d_mem]) and
    "read_entropy" (mean entropy of the read weights, scalar).
    Parameters: d·(S + 1 + 3·d_mem) + S + 1 + 3·d_mem (write/read heads) + d_mem·d + d (out).
    write_address: "learned" (w = softmax(W_addr x), the d·S + S above), "shared" (w =
    softmax(q·Kᵀ/√d_mem) with the read query q and fixed `slot_keys` K: no parameters, slots
    still addressed) or "broadcast" (w = 1: the reference's write, which keeps every slot equal
    to the others when they start equal). bias=False drops the address, add, query and output
    biases (the reference's head: 4·d·d_mem + d + 1 + d_mem with write_address != "learned").
    """

    kind = "memory"

    def __init__(
        self, d_model: int, d_mem: int, num_slots: int, chunk: int | None = None,
        write_address: str = "learned", bias: bool = True,
    ) -> None:
        super().__init__()
        if write_address not in WRITE_ADDRESSES:
            raise ValueError(f"unknown write_address {write_address!r}; choose from {WRITE_ADDRESSES}")
        self.d_mem, self.num_slots, self.chunk = d_mem, num_slots, chunk
        self.write_address = write_address
        n_addr = num_slots if write_address == "learned" else 0
        # Fused projections: slot address (S, "learned" only), write strength (1), erase, add,
        # query (d_mem each). bias=False is the reference's: only strength and erase keep one.
        self.proj = nn.Linear(d_model, n_addr + 1 + 3 * d_mem, bias=bias)
        self.gate_bias = None if bias else nn.Parameter(torch.zeros(1 + d_mem))
        self.w_out = nn.Linear(d_mem, d_model, bias=bias)
        if write_address == "shared":
            self.register_buffer("slot_keys", slot_keys(num_slots, d_mem))

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x: [N, d_model] -> write address w [N, S] (rows in Δ^S, or all ones for "broadcast"),
        strength, erase, add, query logits ([N, 1], then [N, d_mem] each)."""
        s, dm = self.num_slots, self.d_mem
        h = self.proj(x)
        if self.gate_bias is not None:
            zeros = self.gate_bias.new_zeros(2 * dm)
            h = h + torch.cat([self.gate_bias, zeros]).to(h.dtype)
        if self.write_address == "learned":
            addr, strength, erase, add, query = h.split([s, 1, dm, dm, dm], dim=-1)
            return torch.softmax(addr, -1), strength, erase, add, query
        strength, erase, add, query = h.split([1, dm, dm, dm], dim=-1)
        if self.write_address == "shared":  # the query's match with each slot's fixed key
            w = torch.softmax(query @ self.slot_keys.to(query.dtype).T / math.sqrt(dm), -1)
        else:  # "broadcast": one vector into every slot, the reference's write
            w = torch.ones_like(query[..., :1]).expand(*query.shape[:-1], s)
        return w, strength, erase, add, query

    def fact_maps(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The write of a fact vector u as if a token routed here with weight 1 carried it.

        u: [..., d_model] (e.g. RMSNorm of a text's mean token embedding) -> (A, B), each
        [..., S, d_mem]: A = 1 − g w eᵀ, B = g w aᵀ with this head's own w, g, e, a.
        """
        w, strength, erase, add, _ = self._heads(u)
        gw = w * torch.sigmoid(strength)
        return write_maps(gw, torch.sigmoid(erase), add, torch.ones_like(gw[..., 0]))

    def forward(self, x: torch.Tensor, ctx: ExpertContext | None = None) -> torch.Tensor:
        if ctx is None or ctx.thread is None:
            raise ValueError("the memory expert needs an ExpertContext with a TapeThread")
        s, dm = self.num_slots, self.d_mem
        w, strength, erase, add, query = self._heads(x)
        n_pos = ctx.batch * ctx.length
        # Scatter the small write vectors; tokens not routed here get strength 0, i.e. the
        # identity map (A = 1, B = 0). The big [B, T, S, d_mem] maps are formed once, densely.
        vec = torch.cat(
            [
                w * (torch.sigmoid(strength) * ctx.weights[:, None]),
                torch.sigmoid(erase),
                add,
            ],
            dim=-1,
        )
        vec = x.new_zeros(n_pos, s + 2 * dm).index_copy(0, ctx.index, vec)
        write = tuple(v.view(ctx.batch, ctx.length, -1) for v in vec.split([s, dm, dm], dim=-1))
        thread: TapeThread = ctx.thread
        if thread.maps is not None:
            raise ValueError("a slot-tape expert cannot share a thread with a holographic expert")
        writes = (*thread.writes, write)
        m0 = thread.init if ctx.state is None else ctx.state
        fused = x.device.type == "cpu" and n_pos * s * dm >= FUSED_MIN_ELEMENTS
        if self.chunk is None and fused:
            tape, mean = tape_from_writes(writes, m0)  # [B, T, S, d_mem], [B, T, d_mem]
        else:
            chunk = self.chunk or math.isqrt(max(ctx.length, 1) - 1) + 1
            tape, mean = tape_from_writes_reference(writes, m0, chunk=chunk)
        ctx.outputs["thread"] = TapeThread(thread.init, None, tape, writes, mean)
        ctx.outputs["state"] = tape[:, -1]
        read, weights = content_read(query, tape.reshape(n_pos, s, dm).index_select(0, ctx.index))
        ent = -(weights * torch.log(weights.clamp_min(1e-12))).sum(-1)
        ctx.outputs["read_entropy"] = ent.mean() if ent.numel() else x.new_zeros(())
        return self.w_out(read)
