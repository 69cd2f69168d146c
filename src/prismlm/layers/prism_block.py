"""PRISM block: Multi-Rate Bus, then a polymorphic router over heterogeneous experts.

    x ← x + MRB(RMSNorm(x))
    u = RMSNorm(x);  routing = Router([u ; mean_slots(tape below)])
    x ← x + Σ_{e ∈ top-k(u)} w_e · expert_e(u)          (sparse dispatch: compute scales with k)

Experts: neural (SwiGLU, hidden `neural_hidden`, 2·d_model by default), memory (tape read/write
head; absent in the last block, whose writes no later block could read) and symbolic (six
primitives). The same code runs a full sequence (`state=None`) and a decode step (x: [B, 1, d],
state = (MRB state, tape state)), so decoding reproduces the forward pass exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .experts import Expert, ExpertContext, NeuralExpert
from .holo_memory import HoloMemoryExpert
from .memory_tape import MemoryExpert, TapeThread
from .multirate_bus import MultiRateBus
from .norm import RMSNorm
from .router import PolymorphicRouter
from .symbolic import SymbolicExpert


@dataclass
class BlockState:
    """Decode state of one block: mrb [B, d_model]; tape [B, S, d_mem] (None without memory)."""

    mrb: torch.Tensor
    tape: torch.Tensor | None

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Replace every tensor held by `fn(tensor)` (e.g. a device move)."""
        self.mrb = fn(self.mrb)
        if self.tape is not None:
            self.tape = fn(self.tape)


@dataclass
class BlockStats:
    """Statistics of the last call: expert kinds, fraction of tokens per kind, mean MRB gates."""

    kinds: tuple[str, ...]
    fractions: torch.Tensor  # [E]
    gates: torch.Tensor  # [K]


def build_experts(
    kinds: tuple[str, ...],
    d_model: int,
    d_mem: int,
    num_slots: int,
    memory_kind: str = "tape",
    neural_hidden: int | None = None,
    write_address: str = "learned",
    expert_bias: bool = True,
) -> nn.ModuleList:
    """One expert per kind. `memory_kind` picks the memory implementation: "tape" (slot
    addressed, NTM erase/add) or "holo" (holographic bind/superpose, `HoloMemoryExpert`).
    `neural_hidden`: the neural expert's SwiGLU width (None = 2·d_model). `write_address` and
    `expert_bias` go to the tape's `MemoryExpert` (and the bias to the symbolic output)."""
    experts: list[Expert] = []
    for kind in kinds:
        if kind == "neural":
            experts.append(NeuralExpert(d_model, neural_hidden or 2 * d_model))
        elif kind == "symbolic":
            experts.append(SymbolicExpert(d_model, out_bias=expert_bias))
        elif kind == "memory":
            if memory_kind == "tape":
                experts.append(
                    MemoryExpert(d_model, d_mem, num_slots, None, write_address, expert_bias)
                )
            elif memory_kind == "holo":
                experts.append(HoloMemoryExpert(d_model, d_mem, num_slots))
            else:
                raise ValueError(f"unknown memory_kind {memory_kind!r}; available: 'tape', 'holo'")
        else:
            raise ValueError(f"unknown expert kind {kind!r}")
    return nn.ModuleList(experts)


class PrismBlock(nn.Module):
    """x: [B, T, d_model], thread -> (x, thread, new decode state, balance loss, read entropy)."""

    def __init__(
        self,
        d_model: int,
        num_rates: int,
        d_mem: int,
        num_slots: int,
        kinds: tuple[str, ...],
        top_k: int = 1,
        epsilon: float = 0.05,
        min_rate: float = math.log(2.0),
        max_rate: float = math.log(256.0),
        norm_eps: float = 1e-6,
        memory_kind: str = "tape",
        neural_hidden: int | None = None,
        write_address: str = "learned",
        expert_bias: bool = True,
    ) -> None:
        super().__init__()
        self.kinds = tuple(kinds)
        self.has_memory = "memory" in self.kinds
        self.norm_mix = RMSNorm(d_model, norm_eps)
        self.mrb = MultiRateBus(d_model, num_rates, min_rate, max_rate)
        self.norm_route = RMSNorm(d_model, norm_eps)
        self.router = PolymorphicRouter(d_model, d_mem, len(self.kinds), top_k, epsilon)
        self.experts = build_experts(
            self.kinds, d_model, d_mem, num_slots, memory_kind, neural_hidden, write_address,
            expert_bias,
        )
        self.last_stats: BlockStats | None = None

    def forward(
        self, x: torch.Tensor, thread: TapeThread, state: BlockState | None = None
    ) -> tuple[torch.Tensor, TapeThread, BlockState, torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        y, mrb_state = self.mrb(self.norm_mix(x), None if state is None else state.mrb)
        x = x + y
        u = self.norm_route(x).reshape(b * t, d)
        routing = self.router(u, thread.summary(b, t))
        out = torch.zeros_like(u)
        entropy = u.new_zeros(())
        new_thread, tape_state = thread, None
        for e, expert in enumerate(self.experts):
            idx = routing.mask[:, e].nonzero().squeeze(-1)
            ctx = ExpertContext(
                idx, routing.weights[idx, e], b, t, thread, None if state is None else state.tape
            )
            y_e = expert(u.index_select(0, idx), ctx)
            out = out.index_add(0, idx, routing.weights[idx, e, None] * y_e)
            if expert.kind == "memory":
                new_thread, tape_state = ctx.outputs["thread"], ctx.outputs["state"]
                entropy = ctx.outputs["read_entropy"]
        x = x + out.view(b, t, d)
        self.last_stats = BlockStats(
            self.kinds,
            routing.mask.float().mean(0).detach(),
            self.mrb.last_gates.reshape(-1, self.mrb.num_rates).mean(0),
        )
        return x, new_thread, BlockState(mrb_state, tape_state), routing.balance_loss, entropy

    def init_state(self, batch: int, tape_init: torch.Tensor) -> BlockState:
        """tape_init: [S, d_mem] shared, or [batch, S, d_mem] one per row (a seeded tape)."""
        tape = tape_init.expand(batch, *tape_init.shape[-2:]).clone() if self.has_memory else None
        return BlockState(self.mrb.init_state(batch, tape_init.device, tape_init.dtype), tape)
