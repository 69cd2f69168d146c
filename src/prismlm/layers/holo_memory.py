"""The holographic memory expert: PRISM's memory expert on a VSA (bipolar MAP) tape.

Selected with `PrismConfig(memory_kind="holo")`. It threads the same shared, causal tape as the
slot-addressed expert (see `memory_tape`), viewed as one holographic vector H ∈ R^D with
D = num_slots · d_mem. For a token x routed here with route weight g:

    k = sign(W_k x),  v = sign(W_v x),  q = sign(W_q x)          bipolar codes (straight-through)
    write:  H ← H + g · (k ⊙ v)                                   bind + superpose, never erase
    read:   r = q ⊙ H / (‖H‖ / √D),   y = (√d_model / D) · r W_v  unbind, back through W_vᵀ

Writes are the additive maps (A = 1, B = g·k⊙v) of the shared tape recurrence, so the thread,
the chunked scan, write-before-read order and decode state are exactly those of the slot tape.
The bind / unbind / read-out path has no parameters of its own: the only weights are the three
encoders W_k, W_v, W_q (and the tape's initial value is a zero buffer, not a parameter).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..ops.tape_scan import compose_maps, tape_scan
from ..ops.vsa import sign_ste
from .experts import Expert, ExpertContext
from .memory_tape import TapeThread


class HoloMemoryExpert(Expert):
    """x: [N, d_model] dispatched tokens -> [N, d_model]; needs `ctx` like `MemoryExpert`."""

    kind = "memory"

    def __init__(self, d_model: int, d_mem: int, num_slots: int, chunk: int | None = None) -> None:
        super().__init__()
        self.d_mem, self.num_slots, self.chunk = d_mem, num_slots, chunk
        self.dim = d_mem * num_slots
        self.encoders = nn.Linear(d_model, 3 * self.dim, bias=False)  # W_k | W_v | W_q
        self.out_scale = math.sqrt(d_model) / self.dim

    def memory_path_parameters(self) -> list[nn.Parameter]:
        """Parameters owned by bind / superpose / unbind / read-out: none, by construction."""
        encoders = {id(p) for p in self.encoders.parameters()}
        return [p for p in self.parameters() if id(p) not in encoders]

    def forward(self, x: torch.Tensor, ctx: ExpertContext | None = None) -> torch.Tensor:
        if ctx is None or ctx.thread is None:
            raise ValueError("the holographic memory expert needs an ExpertContext with a TapeThread")
        D, n_pos = self.dim, ctx.batch * ctx.length
        k, v, q = sign_ste(self.encoders(x)).split([D, D, D], dim=-1)
        writes = x.new_zeros(n_pos, D).index_copy(0, ctx.index, ctx.weights[:, None] * k * v)
        shape = (ctx.batch, ctx.length, self.num_slots, self.d_mem)
        thread: TapeThread = ctx.thread
        maps = compose_maps(thread.maps, (torch.ones(shape, dtype=x.dtype, device=x.device),
                                          writes.view(shape)))
        h0 = thread.init if ctx.state is None else ctx.state
        tape = tape_scan(maps[0], maps[1], h0, chunk=self.chunk)  # [B, T, S, d_mem]
        ctx.outputs["thread"] = TapeThread(thread.init, maps, tape)
        ctx.outputs["state"] = tape[:, -1]
        ctx.outputs["read_entropy"] = x.new_zeros(())
        h = tape.reshape(n_pos, D).index_select(0, ctx.index)
        rms = h.norm(dim=-1, keepdim=True) / math.sqrt(D)
        read = q * h / rms.clamp_min(1e-6)
        w_v = self.encoders.weight[D : 2 * D]  # [D, d_model]
        return (read @ w_v) * self.out_scale
