"""PrismLM: Multi-Rate Bus + polymorphic routing over neural / memory / symbolic experts, one tape.

    token embedding → L × PrismBlock (sharing one causal memory tape) → RMSNorm → tied head
    aux = balance_weight · Σ_blocks load-balance − read_entropy_weight · Σ_blocks read entropy

Causal everywhere (unlike the reference, whose tape write is a mean over all positions): the MRB
is a causal scan, experts are pointwise, and the tape is a per-slot causal recurrence
(see `layers.memory_tape`). Decoding carries, per block, the MRB state [B, d_model] and that
block's view of the tape [B, S, d_mem], and runs the same block code on one token, so
`step` reproduces `forward`.

Seeding (knowledge in memory, not in the prompt): `forward`, `prefill`, `init_state` and
`generate` take `memory` and `blend`. For the slot tape, memory is [K, d_mem] or [B, K, d_mem]
slots (K ≤ S) and M_0 = (1 − β)·M_init + β·M_seed (`layers.memory_tape.seeded_init`); for the
holo kind it is a pre-bound holographic state H_0, [D], [S, d_mem] or [B, S, d_mem] (D = S·d_mem),
and H_0 = β·memory since the unseeded H_0 is 0. β = 0 is exactly no seed. The seeded M_0 is
every block's starting tape and block 0's router summary, so a decode state keeps it
(`PrismState.memory`). `memory.seed` builds seeds from text with the model's own write path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from ..layers.init import init_linear_and_embedding_
from ..layers.memory_tape import WRITE_ADDRESSES, TapeThread, seeded_init
from ..layers.norm import RMSNorm
from ..layers.prism_block import BlockState, PrismBlock
from .base import SequenceLM, register_model
from .state import DecodeState

EXPERT_KINDS = ("neural", "memory", "symbolic")


@dataclass
class PrismConfig:
    """PRISM hyper-parameters (toy defaults of the spec, §1).

    Rates Δ_k are log-spaced in [min_rate, max_rate]; top_k ≤ number of expert kinds;
    memory_kind selects the memory expert: "tape" (slot-addressed NTM tape) or "holo" (the
    holographic tape of PRISM-Holo, whose bind/unbind path has no trainable parameters).
    neural_hidden_mult: the neural expert's SwiGLU hidden width is neural_hidden_mult·d_model
    (the toy spec uses 2; the reference's 350m / 700m / 1b presets use 3).
    tie_embeddings: logits = h·Eᵀ with the input embedding E (True) or a separate V×d head.
    expert_types: the expert kinds every block routes over, any non-empty subset of
    EXPERT_KINDS, stored in EXPERT_KINDS order (so two spellings of one model share a
    fingerprint); top_k ≤ their number. Single-kind models are the modular-pretraining phases.
    write_address, expert_bias, learned_tape_init (tape memory only; the defaults are prismlm's
    own head): the memory's write address, "learned" (its own d·S + S head), "shared" (the read
    query against fixed slot keys, no parameters) or "broadcast" (the reference's degenerate
    write to every slot); expert_bias=False drops the memory's address/add/query/output and the
    symbolic output biases; learned_tape_init=False starts the tape at zeros (a buffer). The
    three set to ("shared", False, False) give the reference's parameters exactly (presets).
    """

    vocab_size: int = 256
    d_model: int = 128
    n_layers: int = 4
    num_rates: int = 4
    min_rate: float = math.log(2.0)
    max_rate: float = math.log(256.0)
    top_k: int = 1
    epsilon: float = 0.05
    balance_weight: float = 0.01
    d_mem: int = 64
    num_slots: int = 32
    read_entropy_weight: float = 0.01
    norm_eps: float = 1e-6
    init_std: float = 0.02
    memory_kind: str = "tape"
    max_len: int = 1 << 20
    neural_hidden_mult: int = 2
    tie_embeddings: bool = True
    expert_types: tuple[str, ...] = EXPERT_KINDS
    write_address: str = "learned"
    expert_bias: bool = True
    learned_tape_init: bool = True

    def __post_init__(self) -> None:
        require(self.vocab_size >= 2, "vocab_size", f"must be >= 2, got {self.vocab_size}")
        require(self.d_model >= 2, "d_model", f"must be >= 2, got {self.d_model}")
        require(self.n_layers >= 1, "n_layers", f"must be >= 1, got {self.n_layers}")
        require(self.num_rates >= 1, "num_rates", f"must be >= 1, got {self.num_rates}")
        require(
            self.d_model % self.num_rates == 0,
            "d_model",
            f"{self.d_model} must be divisible by num_rates={self.num_rates}",
        )
        require(0 < self.min_rate <= self.max_rate, "min_rate", "need 0 < min_rate <= max_rate")
        kinds = tuple(self.expert_types) if isinstance(self.expert_types, list | tuple) else ()
        require(len(kinds) >= 1, "expert_types",
                f"must be a non-empty list of kinds, got {self.expert_types!r}")
        unknown = [k for k in kinds if k not in EXPERT_KINDS]
        require(not unknown, "expert_types", f"unknown kinds {unknown}; choose from {list(EXPERT_KINDS)}")
        require(len(set(kinds)) == len(kinds), "expert_types", f"repeats a kind: {list(kinds)}")
        self.expert_types = tuple(k for k in EXPERT_KINDS if k in kinds)
        require(
            1 <= self.top_k <= len(self.expert_types),
            "top_k",
            f"must be in [1, {len(self.expert_types)}] (the number of expert_types), got {self.top_k}",
        )
        require(0 <= self.epsilon < 1, "epsilon", f"must be in [0, 1), got {self.epsilon}")
        require(self.balance_weight >= 0, "balance_weight", "must be >= 0")
        require(self.read_entropy_weight >= 0, "read_entropy_weight", "must be >= 0")
        require(self.d_mem >= 1, "d_mem", f"must be >= 1, got {self.d_mem}")
        require(self.num_slots >= 1, "num_slots", f"must be >= 1, got {self.num_slots}")
        require(
            self.memory_kind in ("tape", "holo"), "memory_kind",
            f"unknown kind {self.memory_kind!r}; choose 'tape' or 'holo'",
        )
        require(self.init_std > 0, "init_std", "must be > 0")
        require(self.max_len >= 1, "max_len", "must be >= 1")
        require(
            isinstance(self.neural_hidden_mult, int) and self.neural_hidden_mult >= 1,
            "neural_hidden_mult", f"must be an int >= 1, got {self.neural_hidden_mult!r}",
        )
        require(isinstance(self.tie_embeddings, bool), "tie_embeddings", "must be a bool")
        require(
            self.write_address in WRITE_ADDRESSES, "write_address",
            f"unknown address {self.write_address!r}; choose from {list(WRITE_ADDRESSES)}",
        )
        require(isinstance(self.expert_bias, bool), "expert_bias", "must be a bool")
        require(isinstance(self.learned_tape_init, bool), "learned_tape_init", "must be a bool")
        require(
            self.memory_kind == "tape" or (self.write_address, self.learned_tape_init) == ("learned", True),
            "write_address", "write_address and learned_tape_init apply to the tape memory only",
        )

    def block_kinds(self, layer: int) -> tuple[str, ...]:
        """Expert kinds of block `layer`: `expert_types`, except that the last block drops memory
        (no later block could read its writes) unless memory is the only kind."""
        if layer == self.n_layers - 1 and len(self.expert_types) > 1:
            return tuple(k for k in self.expert_types if k != "memory")
        return self.expert_types


@dataclass
class PrismState(DecodeState):
    """One `BlockState` per block: its MRB state and, in memory blocks, its view of the tape.
    memory: the seeded initial tape M_0 ([S, d_mem] or [B, S, d_mem]), None when unseeded."""

    blocks: list[BlockState]
    position: int = 0
    memory: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.blocks[0].mrb.shape[0]

    def apply(self, fn) -> None:
        for block in self.blocks:
            block.apply(fn)
        if self.memory is not None:
            self.memory = fn(self.memory)


@register_model
class PrismLM(SequenceLM):
    """input_ids [B, T] -> logits [B, T, V]; `routing_stats()` describes the last call."""

    config_class = PrismConfig

    def __init__(self, config: PrismConfig) -> None:
        super().__init__(config)
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        if c.memory_kind == "holo" or not c.learned_tape_init:  # H_0 = 0 / the reference's zeros
            self.register_buffer("tape_init", torch.zeros(c.num_slots, c.d_mem))
        else:
            self.tape_init = nn.Parameter(torch.randn(c.num_slots, c.d_mem))
        self.blocks = nn.ModuleList(
            PrismBlock(
                c.d_model,
                c.num_rates,
                c.d_mem,
                c.num_slots,
                c.block_kinds(i),
                min(c.top_k, len(c.block_kinds(i))),
                c.epsilon,
                c.min_rate,
                c.max_rate,
                c.norm_eps,
                c.memory_kind,
                c.neural_hidden_mult * c.d_model,
                c.write_address,
                c.expert_bias,
            )
            for i in range(c.n_layers)
        )
        self.norm = RMSNorm(c.d_model, c.norm_eps)
        self.head = None if c.tie_embeddings else nn.Linear(c.d_model, c.vocab_size, bias=False)
        init_linear_and_embedding_(self, c.init_std)

    def initial_memory(
        self, memory: torch.Tensor | None, blend: float = 1.0, batch: int | None = None
    ) -> torch.Tensor | None:
        """The seeded M_0 ([S, d_mem] or [B, S, d_mem]) from a seed (module docstring), or None
        when `memory` is None. Bad shapes, dtypes or blends raise ValueError/TypeError."""
        if memory is None:
            seeded_init(self.tape_init, None, blend)  # still validates blend
            return None
        c = self.config
        if c.memory_kind == "holo" and isinstance(memory, torch.Tensor) and memory.dim() == 1:
            if memory.shape[0] != c.num_slots * c.d_mem:
                d = c.num_slots * c.d_mem
                raise ValueError(f"a flat holographic memory must be [D={d}], got {tuple(memory.shape)}")
            memory = memory.view(c.num_slots, c.d_mem)
        return seeded_init(self.tape_init, memory, blend, batch, full=c.memory_kind == "holo")

    def _run(
        self, x: torch.Tensor, states: list[BlockState] | None, init: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, list[BlockState]]:
        thread = TapeThread(self.tape_init if init is None else init)
        balance, entropy, new_states = x.new_zeros(()), x.new_zeros(()), []
        for i, block in enumerate(self.blocks):
            x, thread, st, lb, ent = block(x, thread, None if states is None else states[i])
            balance, entropy = balance + lb, entropy + ent
            new_states.append(st)
        aux = self.config.balance_weight * balance - self.config.read_entropy_weight * entropy
        h = self.norm(x)
        return (self.tied_head(h) if self.head is None else self.head(h)), aux, new_states

    def forward(
        self,
        input_ids: torch.Tensor,
        return_aux: bool = False,
        memory: torch.Tensor | None = None,
        blend: float = 1.0,
    ):
        """input_ids [B, T] -> logits [B, T, V] (and aux); `memory`/`blend` seed the tape."""
        self.check_input_ids(input_ids, self.config.max_len)
        init = self.initial_memory(memory, blend, input_ids.shape[0])
        logits, aux, _ = self._run(self.embed(input_ids), None, init)
        return (logits, aux) if return_aux else logits

    def init_state(
        self,
        batch_size: int,
        device: torch.device | None = None,
        memory: torch.Tensor | None = None,
        blend: float = 1.0,
    ) -> PrismState:
        self.check_batch_size(batch_size)
        init = self.initial_memory(memory, blend, batch_size)
        tape = (self.tape_init if init is None else init).detach()  # device/dtype follow the model
        if device is not None:
            tape = tape.to(device)
        blocks = [blk.init_state(batch_size, tape) for blk in self.blocks]
        return PrismState(blocks, memory=None if init is None else tape)

    def _step(self, token: torch.Tensor, state: PrismState) -> tuple[torch.Tensor, PrismState]:
        """token: [B] -> (logits [B, V], state): the block code of `forward` on one position."""
        if state.position >= self.config.max_len:
            raise ValueError(f"decode position {state.position} exceeds max_len {self.config.max_len}")
        logits, _, state.blocks = self._run(self.embed(token)[:, None], state.blocks, state.memory)
        state.position += 1
        return logits[:, 0], state

    @torch.no_grad()
    def prefill(
        self, input_ids: torch.Tensor, memory: torch.Tensor | None = None, blend: float = 1.0
    ) -> tuple[torch.Tensor, PrismState]:
        """Parallel prefill: one forward pass gives the last logits and every block's state."""
        self.check_input_ids(input_ids, self.config.max_len)
        init = self.initial_memory(memory, blend, input_ids.shape[0])
        logits, _, states = self._run(self.embed(input_ids), None, init)
        return logits[:, -1], PrismState(states, position=input_ids.shape[1], memory=init)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        memory: torch.Tensor | None = None,
        blend: float = 1.0,
    ) -> torch.Tensor:
        """`SequenceLM.generate` from a seeded tape: the prompt and every new token read `memory`."""
        if memory is None:
            self.initial_memory(None, blend)
            return super().generate(input_ids, max_new_tokens, temperature, top_k, generator)
        self.initial_memory(memory, blend, input_ids.shape[0] if input_ids.dim() == 2 else None)
        # The base loop calls self.prefill(ids); an instance attribute binds the seed for that
        # call only (the decode steps carry it in PrismState.memory).
        self.prefill = lambda ids: type(self).prefill(self, ids, memory, blend)
        try:
            return super().generate(input_ids, max_new_tokens, temperature, top_k, generator)
        finally:
            del self.prefill

    def routing_stats(self) -> list[dict]:
        """Per block of the last call: {"kinds", "fractions": {kind: share of tokens},
        "gates": mean MRB gate per rate, "half_lives": tokens per rate}."""
        out = []
        for blk in self.blocks:
            st = blk.last_stats
            if st is None:
                continue
            out.append(
                {
                    "kinds": list(st.kinds),
                    "fractions": {k: float(f) for k, f in zip(st.kinds, st.fractions, strict=True)},
                    "gates": [float(g) for g in st.gates],
                    "half_lives": [float(h) for h in blk.mrb.half_lives],
                }
            )
        return out
