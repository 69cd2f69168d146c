"""Working memory: a bounded buffer of episodes ranked by importance (volatile, per process).

An episode is one thing the loop perceived: a user statement, a question with its answer, or
an explicit "remember: …". Its importance in [0, 1] (`importance_of`) decides two things:
which episode is dropped when the buffer is full (the least important, the oldest of equals)
and which episodes consolidation moves to long-term memory (importance ≥ the threshold).
Nothing here touches the disk: what must survive a kill goes through `LongTermMemory`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..memory.ingest import extract_facts

__all__ = ["Episode", "WorkingMemory", "importance_of", "QUESTION_IMPORTANCE",
           "STATEMENT_IMPORTANCE", "FACT_IMPORTANCE", "EXPLICIT_IMPORTANCE"]  # fmt: skip

QUESTION_IMPORTANCE = 0.1  # a question states nothing new
STATEMENT_IMPORTANCE = 0.3  # prose without a stated fact or name
FACT_IMPORTANCE = 0.7  # states a fact ("X is Y", "Key: value") or names something
EXPLICIT_IMPORTANCE = 1.0  # "remember: …"


def _is_question(text: str) -> bool:
    return text.rstrip().endswith("?")


def importance_of(text: str) -> float:
    """Importance of a user utterance, from its shape alone (no model):
    a question -> QUESTION_IMPORTANCE; a statement holding an extractable fact or a name
    (a capitalised word after the first, or a number) -> FACT_IMPORTANCE; other statements ->
    STATEMENT_IMPORTANCE."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if _is_question(text):
        return QUESTION_IMPORTANCE
    words = text.split()[1:]
    named = any(w[:1].isupper() or w[:1].isdigit() for w in words)
    if named or next(extract_facts(text), None) is not None:
        return FACT_IMPORTANCE
    return STATEMENT_IMPORTANCE


@dataclass
class Episode:
    """text: what is kept; importance in [0, 1]; kind: "statement" | "question" | "explicit";
    capture: the model's memory after reading the text ([S, d_mem], None without a model)."""

    text: str
    importance: float
    kind: str = "statement"
    timestamp: float = field(default_factory=time.time)
    capture: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"episode text must be a non-empty str, got {self.text!r}")
        if not 0.0 <= float(self.importance) <= 1.0:
            raise ValueError(f"importance must be in [0, 1], got {self.importance}")


class WorkingMemory:
    """At most `capacity` episodes; `add` evicts the least important (oldest among equals)."""

    def __init__(self, capacity: int = 64) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")
        self.capacity = capacity
        self.episodes: list[Episode] = []
        self.seen = 0  # episodes ever added (consolidation runs every n of them)

    def __len__(self) -> int:
        return len(self.episodes)

    def add(self, episode: Episode) -> Episode | None:
        """Add `episode`; returns the episode dropped to stay within capacity (or None). The new
        episode itself is dropped when it is less important than everything held."""
        self.episodes.append(episode)
        self.seen += 1
        if len(self.episodes) <= self.capacity:
            return None
        drop = min(self.episodes, key=lambda e: (e.importance, e.timestamp))
        self.episodes.remove(drop)
        return drop

    def take(self, threshold: float) -> list[Episode]:
        """Remove and return the episodes with importance ≥ threshold, oldest first."""
        keep = [e for e in self.episodes if e.importance < threshold]
        out = [e for e in self.episodes if e.importance >= threshold]
        self.episodes = keep
        return sorted(out, key=lambda e: e.timestamp)
