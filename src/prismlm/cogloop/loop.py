"""CogLoop: perceive → reflect → respond → consolidate, one turn per user utterance.

    loop = CogLoop(LongTermMemory("me.sqlite"), model=None)      # or a saved PrismLM
    loop.turn("remember: The capital of Zorbia is Quex.")         # consolidated at once
    loop.turn("What is the capital of Zorbia?").reply             # "Quex (from memory, ...)"

PERCEIVE. The long-term facts seed the model's tape (`memory.seed.seed_from_texts`, at most
`seed_facts` of them); the question is prefilled on that tape and the capture is the first
memory block's tape after the question's last token, M_T [S, d_mem] — the state a decode step
would continue from, so it depends on positions ≤ T only (causal; the reference averaged writes
over all positions). Without a model the capture is None. Retrieval asks the long-term KB.
REFLECT. `reflect.reflect` over the KB: bounded passes, explicit convergence rule, a trace.
RESPOND. A known answer (confidence ≥ the KB's threshold) is given from memory with its
confidence and entry id; otherwise the seeded model generates (greedy); without a model the
reply is "I don't know". `Turn.source` says which: "memory" | "model" | "none".
CONSOLIDATE. Every utterance becomes an episode in working memory (importance from
`importance_of`); every `consolidate_every` episodes, those with importance ≥ the threshold go
to long-term memory as one entry (one transaction). "remember: …" bypasses the threshold and is
consolidated at once; `flush` consolidates what is pending (the CLI calls it on a clean exit —
a killed process loses only unconsolidated working memory, never a half-written entry).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..memory.inference import IDK, Answer
from ..memory.seed import generate_text, kb_pairs, memory_head, seed_from_texts, utf8_ids
from ..models.prism import PrismLM
from .long_term import Entry, LongTermMemory, _parse
from .reflect import DEFAULT_MAX_PASSES, DEFAULT_TOL, ReflectTrace, reflect
from .working_memory import EXPLICIT_IMPORTANCE, Episode, WorkingMemory, _is_question, importance_of

__all__ = ["CogLoop", "LoopConfig", "Perception", "Turn", "REMEMBER_PREFIX"]

REMEMBER_PREFIX = "remember:"


@dataclass
class LoopConfig:
    """wm_capacity: working-memory episodes; importance_threshold: consolidated at or above;
    consolidate_every: episodes between consolidations; max_passes / tol: reflection budget and
    convergence tolerance; seed_facts: long-term facts written into the model's tape;
    max_new_tokens / temperature / blend: generation."""

    wm_capacity: int = 64
    importance_threshold: float = 0.5
    consolidate_every: int = 16
    max_passes: int = DEFAULT_MAX_PASSES
    tol: float = DEFAULT_TOL
    seed_facts: int = 256
    max_new_tokens: int = 48
    temperature: float = 0.0
    blend: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.importance_threshold <= 1.0:
            raise ValueError(f"importance_threshold must be in [0, 1], got {self.importance_threshold}")
        for name in ("consolidate_every", "seed_facts", "max_new_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")


@dataclass
class Perception:
    """text; capture: M_T [S, d_mem] after the text (None without a model); n_seeded: long-term
    facts in the tape it was read on."""

    text: str
    capture: torch.Tensor | None
    n_seeded: int


@dataclass
class Turn:
    """One turn: the reply and how it was made. source: "memory" | "model" | "none" | "noted"
    (a statement) | "remembered" (an explicit remember)."""

    text: str
    reply: str
    source: str
    answer: Answer | None = None
    trace: ReflectTrace | None = None
    perception: Perception | None = None
    consolidated: list[Entry] = field(default_factory=list)


class CogLoop:
    """The loop over one long-term memory, with an optional byte-level PrismLM (module docstring)."""

    def __init__(self, long_term: LongTermMemory, model: PrismLM | None = None,
                 config: LoopConfig | None = None) -> None:  # fmt: skip
        if not isinstance(long_term, LongTermMemory):
            raise TypeError(f"long_term must be a LongTermMemory, got {type(long_term).__name__}")
        if model is not None:
            memory_head(model)  # TypeError / ValueError unless a PrismLM with a memory expert
            if model.config.vocab_size < 256:
                raise ValueError(
                    f"model must be byte-level (vocab_size >= 256), got {model.config.vocab_size}"
                )
            model.eval()
        self.long_term, self.model = long_term, model
        self.config = config or LoopConfig()
        self.working = WorkingMemory(self.config.wm_capacity)

    # ---------------------------------------------------------------------------- steps
    def seed(self) -> tuple[torch.Tensor | None, int]:
        """(the tape seed from long-term facts or None, how many facts)."""
        pairs = kb_pairs(self.long_term.store, self.config.seed_facts)
        if self.model is None or not pairs:
            return None, len(pairs)
        return seed_from_texts(self.model, pairs), len(pairs)

    @torch.no_grad()
    def perceive(self, text: str) -> Perception:
        """Causal capture of what reading `text` writes into the (seeded) tape (module docstring)."""
        if self.model is None:
            return Perception(text, None, 0)
        seed, n = self.seed()
        ids = utf8_ids(text, self.model.embed.weight.device)[None]
        _, state = self.model.prefill(ids, memory=seed, blend=self.config.blend)
        tape = next(b.tape for b in state.blocks if b.tape is not None)
        return Perception(text, tape[0].detach().clone(), n if seed is not None else 0)

    def reflect(self, question: str) -> tuple[Answer, ReflectTrace]:
        kb = self.long_term.knowledge()
        return reflect(kb.ask, question, self.config.max_passes, self.config.tol)

    def respond(self, question: str, answer: Answer) -> tuple[str, str]:
        """(reply, source) — see the module docstring."""
        if answer.value is not None:
            meta = _parse(answer.source or "")
            where = f"entry {meta[0]}" if meta else (answer.source or "?")
            return f"{answer.value}  (from memory, confidence {answer.confidence:.2f}, {where})", "memory"
        if self.model is None:
            return f"{IDK}  (nothing remembered answers it; no model loaded)", "none"
        pairs = kb_pairs(self.long_term.store, self.config.seed_facts)
        c = self.config
        text = generate_text(self.model, question, "knowledge" if pairs else "scratch", pairs or None,
                             c.blend, c.max_new_tokens, c.temperature)  # fmt: skip
        return f"{text.strip()}  (generated by the model, tape seeded with {len(pairs)} facts)", "model"

    def observe(self, episode: Episode) -> list[Entry]:
        """Add to working memory; every `consolidate_every` episodes, consolidate."""
        self.working.add(episode)
        if self.working.seen % self.config.consolidate_every == 0:
            return self.flush()
        return []

    def flush(self) -> list[Entry]:
        """Consolidate the pending episodes at or above the threshold (one entry)."""
        entry = self.long_term.consolidate(self.working.take(self.config.importance_threshold))
        return [entry] if entry is not None else []

    # ---------------------------------------------------------------------------- turns
    def remember(self, text: str, importance: float = EXPLICIT_IMPORTANCE) -> Entry:
        """Consolidate `text` now, whatever the threshold."""
        ep = Episode(text.strip(), importance, "explicit", capture=self.perceive(text).capture)
        return self.long_term.consolidate([ep], kind="explicit")

    def turn(self, text: str) -> Turn:
        """One utterance: "remember: …", a statement (noted) or a question (answered)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        text = text.strip()
        if not text:
            raise ValueError("empty utterance")
        if text.lower().startswith(REMEMBER_PREFIX):
            entry = self.remember(text[len(REMEMBER_PREFIX) :])
            return Turn(text, f"remembered as entry {entry.id}", "remembered", consolidated=[entry])
        seen = self.perceive(text)
        importance = importance_of(text)
        if not _is_question(text):
            done = self.observe(Episode(text, importance, "statement", capture=seen.capture))
            return Turn(text, f"noted (importance {importance:.2f})", "noted", perception=seen,
                        consolidated=done)  # fmt: skip
        answer, trace = self.reflect(text)
        reply, source = self.respond(text, answer)
        done = self.observe(Episode(text, importance, "question", capture=seen.capture))
        return Turn(text, reply, source, answer, trace, seen, done)
