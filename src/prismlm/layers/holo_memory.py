"""The holographic memory (PRISM-Holo): a causal MAP tape, standalone and as PRISM's expert.

One accumulator H ∈ R^D replaces the slot tape; bipolar codes come from linear encoders with a
straight-through sign, and bind / superpose / unbind / read-out is `ops.holo_scan`:

    k_t = sign(W_k x_{t−s}),  v_t = sign(W_v x_t),  q_t = sign(W_q x_t)   (W_q = W_k by default)
    H_t = H_0 + Σ_{u ≤ t} g_u (k_u ⊙ v_u)
    y_t = (√d / D) · (q_t ⊙ H_t / (‖H_t‖ / √D)) W_v

The memory path has no parameters of its own (no q_proj, read_out, write or erase gate): the
only weights are the encoders, and the read-out reuses W_v so a recalled value lands near the
embedding that wrote it. Knowledge is added without training by binding pairs into H_0
(`HoloMemory.write_facts`).

* `HoloMemory` — the standalone layer over a sequence (g = 1). With `key_shift` s = 1 it is an
  induction memory: after "a b", a later "a" reads back ≈ the value of "b"; s = 0 binds a
  token's key to its own value (the reference's HoloHead). Unlike the reference, whose write is
  the mean over all positions, H_t holds only positions ≤ t; `step` reproduces `forward`.
* `HoloMemoryExpert` — the same memory as PRISM's routed memory expert
  (`PrismConfig(memory_kind="holo")`): W_q separate, s = 0 (the previous token is usually
  routed elsewhere), g = route weight, and H threaded through the blocks like the slot tape.
  `bind_facts` pre-binds facts into an H_0 for `PrismLM(memory=...)`, with gradients.
* `contrastive_retrieval_loss` — the holo recipe's InfoNCE over a batch of facts bound into one
  tape; it trains the seed-read path (W_k, W_v, W_q) where the seed uses it. The reference's
  other loss, "consistency" 1 − cos(k ⊙ (k ⊙ v), v), is identically 0 for bipolar k (k ⊙ k = 1),
  so it is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from ..ops.holo_scan import causal_superpose, holo_readout, holo_scan, normalized_unbind
from ..ops.vsa import sign_ste
from .experts import Expert, ExpertContext
from .memory_tape import TapeThread

__all__ = ["HoloMemoryConfig", "HoloMemory", "HoloMemoryExpert", "contrastive_retrieval_loss",
           "CONTRASTIVE_TEMPERATURE"]

CONTRASTIVE_TEMPERATURE = 0.07  # the holo recipe's InfoNCE temperature τ


@dataclass
class HoloMemoryConfig:
    """d_model: model width d. dim: tape size D (PRISM flattens S·d_mem). key_shift: how many
    positions back the written key comes from. separate_query: own W_q (True) or q = k's
    encoder (False). trainable_encoders: the encoders take gradients (True) or stay fixed
    random projections (False). seed: encoder initialisation (None = global RNG). chunk:
    positions per scan chunk in `forward` (bounds the live tape slice to B·chunk·D)."""

    d_model: int = 128
    dim: int = 2048
    key_shift: int = 1
    separate_query: bool = False
    trainable_encoders: bool = True
    seed: int | None = None
    chunk: int = 128

    def __post_init__(self) -> None:
        require(self.d_model > 0, "d_model", "must be positive")
        require(self.dim >= 8, "dim", "must be >= 8")
        require(self.key_shift >= 0, "key_shift", "must be >= 0")
        require(self.chunk >= 1, "chunk", "must be >= 1")


class HoloMemory(nn.Module):
    """Causal holographic memory layer (module docstring).

    `HoloMemory(config)` or keyword shortcuts `HoloMemory(d_model=128, dim=2048, key_shift=1, …)`.
    Parameters: (2 or 3)·D·d encoder weights (W_k | W_v [| W_q], one fused Linear, no bias).

    forward(x [B, T, d], tape: [B, D] | [D] | None) -> y [B, T, d]
    init_state(B, tape) -> state;  step(x_t [B, d], state) -> (y_t [B, d], state)
    codes(x [..., d]) -> (k, v, q) each [..., D] in {−1, +1}
    write_facts(keys [N, d], values [N, d]) -> tape [D]
    """

    def __init__(self, config: HoloMemoryConfig | None = None, **kwargs) -> None:
        super().__init__()
        if config is None:
            config = HoloMemoryConfig(**kwargs)
        elif kwargs:
            raise TypeError("pass either a HoloMemoryConfig or keyword arguments, not both")
        self.config = config
        d, D = config.d_model, config.dim
        self._n_codes = 3 if config.separate_query else 2
        self.encoders = nn.Linear(d, self._n_codes * D, bias=False)  # W_k | W_v [| W_q]
        g = torch.Generator().manual_seed(config.seed) if config.seed is not None else None
        with torch.no_grad():  # N(0, 1/d): the scale `holo_readout` assumes
            self.encoders.weight.copy_(torch.randn(self._n_codes * D, d, generator=g) * d**-0.5)
        self.encoders.weight.requires_grad_(config.trainable_encoders)

    @property
    def value_weight(self) -> torch.Tensor:
        """W_v: [D, d_model], the value encoder the read-out goes back through."""
        D = self.config.dim
        return self.encoders.weight[D : 2 * D]

    def codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(k, v, q) = sign(W_k x), sign(W_v x), sign(W_q x): [..., d] -> 3 × [..., D].

        One matmul for all codes; without a separate W_q the query is the key code itself.
        """
        D = self.config.dim
        parts = sign_ste(self.encoders(x)).split(D, dim=-1)
        k, v = parts[0], parts[1]
        return k, v, parts[2] if self.config.separate_query else k

    def memory_path_parameters(self) -> list[nn.Parameter]:
        """Parameters of bind / superpose / unbind / read-out (everything but the encoders)."""
        return [p for n, p in self.named_parameters() if not n.startswith("encoders.")]

    @torch.no_grad()
    def write_facts(self, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """H_0 = Σ_i sign(W_k key_i) ⊙ sign(W_v value_i): [N, d] × 2 -> [D]. No gradient."""
        d = self.config.d_model
        if keys.shape != values.shape or keys.dim() != 2 or keys.shape[1] != d:
            raise ValueError(
                f"keys and values must both be [N, {d}], got {tuple(keys.shape)} and {tuple(values.shape)}"
            )
        return (self.codes(keys)[0] * self.codes(values)[1]).sum(0)

    def _tape(self, x: torch.Tensor, tape: torch.Tensor | None) -> torch.Tensor | None:
        if tape is None:
            return None
        D = self.config.dim
        if tape.shape not in ((D,), (x.shape[0], D)):
            raise ValueError(f"tape must be [{D}] or [B, {D}], got {tuple(tape.shape)}")
        return tape.to(x.dtype)

    def forward(self, x: torch.Tensor, tape: torch.Tensor | None = None) -> torch.Tensor:
        """x: [B, T, d_model], tape: optional H_0 -> y: [B, T, d_model] (causal)."""
        if x.dim() != 3 or x.shape[-1] != self.config.d_model:
            raise ValueError(f"x must be [B, T, {self.config.d_model}], got {tuple(x.shape)}")
        k, v, q = self.codes(x)
        s = self.config.key_shift
        if s > 0:  # the key written at t is x_{t−s}'s; positions t < s write nothing
            k = torch.cat([torch.zeros_like(k[:, :s]), k[:, :-s]], dim=1)[:, : x.shape[1]]
        y, _ = holo_scan(k, v, q, self.value_weight, self._tape(x, tape), chunk=self.config.chunk)
        return y

    def init_state(self, batch_size: int, tape: torch.Tensor | None = None) -> dict:
        """Decode state: the tape H [B, D] and the key codes of the last `key_shift` tokens."""
        w = self.encoders.weight
        h = w.new_zeros(batch_size, self.config.dim)
        if tape is not None:
            h = h + self._tape(h[:, None], tape)
        return {"h": h, "keys": []}

    def step(self, x_t: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """One position: x_t [B, d_model] -> (y_t [B, d_model], new state). O(D·d_model)."""
        s = self.config.key_shift
        k, v, q = self.codes(x_t)
        keys = state["keys"] + [k]
        k_write = keys[-1 - s] if len(keys) > s else torch.zeros_like(k)
        y, h = holo_scan(k_write[:, None], v[:, None], q[:, None], self.value_weight, state["h"])
        return y[:, 0], {"h": h, "keys": keys[-s:] if s else []}


class HoloMemoryExpert(Expert):
    """PRISM's holographic memory expert: x [N, d_model] dispatched tokens -> [N, d_model].

    A `HoloMemory` (D = num_slots·d_mem, separate W_q, key_shift 0) whose writes are gated by the
    route weight and whose tape rides the shared `TapeThread` (viewed as [S, d_mem]) like the slot
    expert's: block b at time t sees the writes of blocks ≤ b at times ≤ t. Holographic writes are
    additive (A = 1), so the thread is a prefix sum. `chunk` is accepted for the slot expert's
    signature; a prefix sum needs no chunking. Puts "thread", "state" ([B, S, d_mem]) and
    "read_entropy" (0: there are no read weights) into ctx.outputs.
    """

    kind = "memory"

    def __init__(self, d_model: int, d_mem: int, num_slots: int, chunk: int | None = None) -> None:
        super().__init__()
        self.d_mem, self.num_slots, self.chunk = d_mem, num_slots, chunk
        self.dim = d_mem * num_slots
        self.memory = HoloMemory(HoloMemoryConfig(d_model, self.dim, key_shift=0, separate_query=True))

    def memory_path_parameters(self) -> list[nn.Parameter]:
        """Parameters owned by bind / superpose / unbind / read-out: none, by construction."""
        return self.memory.memory_path_parameters()

    def bind_facts(self, u_keys: torch.Tensor, u_values: torch.Tensor) -> torch.Tensor:
        """H_0 = Σ_i sign(W_k u_key_i) ⊙ sign(W_v u_value_i), viewed as [..., S, d_mem].

        u_keys, u_values: [..., N, d_model] (same shape). Straight-through signs, so a loss on a
        run seeded with H_0 trains the encoders that wrote it; under no_grad it is `write_facts`.
        """
        if u_keys.shape != u_values.shape or u_keys.dim() < 2:
            raise ValueError(
                f"u_keys and u_values must share a [..., N, d_model] shape, got "
                f"{tuple(u_keys.shape)} and {tuple(u_values.shape)}"
            )
        h = (self.memory.codes(u_keys)[0] * self.memory.codes(u_values)[1]).sum(-2)
        return h.unflatten(-1, (self.num_slots, self.d_mem))

    def forward(self, x: torch.Tensor, ctx: ExpertContext | None = None) -> torch.Tensor:
        if ctx is None or ctx.thread is None:
            raise ValueError("the holographic memory expert needs an ExpertContext with a TapeThread")
        D, n_pos = self.dim, ctx.batch * ctx.length
        shape = (ctx.batch, ctx.length, self.num_slots, self.d_mem)
        k, v, q = self.memory.codes(x)
        writes = x.new_zeros(n_pos, D).index_copy(0, ctx.index, ctx.weights[:, None] * k * v)
        thread: TapeThread = ctx.thread
        if thread.writes:
            raise ValueError("a holographic expert cannot share a thread with a slot-tape expert")
        # Composing with an additive map (1, w) keeps A and adds w to B. A stays the stride-0
        # ones view, which also tells a holo thread apart from a slot tape's (A ≠ 1).
        if thread.maps is None:
            ones = torch.ones((), dtype=x.dtype, device=x.device).expand(shape)
            maps = (ones, writes.view(shape))
        else:
            if any(thread.maps[0].stride()):
                raise ValueError("a holographic expert cannot share a thread with a slot-tape expert")
            maps = (thread.maps[0], thread.maps[1] + writes.view(shape))
        h0 = thread.init if ctx.state is None else ctx.state
        tape = causal_superpose(maps[1].reshape(ctx.batch, ctx.length, D), h0.reshape(*h0.shape[:-2], D))
        tape = tape.view(shape)
        ctx.outputs["thread"] = TapeThread(thread.init, maps, tape)
        ctx.outputs["state"] = tape[:, -1]
        ctx.outputs["read_entropy"] = x.new_zeros(())
        h = tape.reshape(n_pos, D).index_select(0, ctx.index)
        return holo_readout(normalized_unbind(q, h), self.memory.value_weight)


def contrastive_retrieval_loss(
    memory: HoloMemory, u_keys: torch.Tensor, u_values: torch.Tensor,
    temperature: float = CONTRASTIVE_TEMPERATURE,
) -> torch.Tensor:
    """InfoNCE of recall from one shared tape (the holo recipe's contrastive loss).

    u_keys, u_values: [..., N, d_model], N ≥ 2 facts per tape (leading dims: independent tapes).
    H = Σ_j k_j ⊙ v_j with k = sign(W_k u_key), v = sign(W_v u_value); r_i = q_i ⊙ H with the
    reader's query q = sign(W_q u_key); logits_ij = cos(r_i, v_j) / τ; cross-entropy with
    target j = i, averaged over facts and tapes. Straight-through signs carry the gradient to
    the encoders. Returns a scalar.
    """
    if u_keys.dim() < 2 or u_keys.shape != u_values.shape or u_keys.shape[-2] < 2:
        raise ValueError(
            f"u_keys and u_values must both be [..., N >= 2, d_model], got {tuple(u_keys.shape)} "
            f"and {tuple(u_values.shape)}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    k, _, q = memory.codes(u_keys)
    v = memory.codes(u_values)[1]
    reads = q * (k * v).sum(-2, keepdim=True)
    norm = torch.nn.functional.normalize
    logits = norm(reads, dim=-1) @ norm(v, dim=-1).transpose(-1, -2) / temperature  # [..., N, N]
    n = v.shape[-2]
    target = torch.arange(n, device=v.device).expand(logits.shape[:-1])
    return torch.nn.functional.cross_entropy(logits.reshape(-1, n), target.reshape(-1))
