"""Long-term memory: one profile = one knowledge-base file (`KBStore`), one document per
consolidation, bounded in size, evicted by importance and age.

A consolidation writes the texts of the consolidated episodes as ONE document through
`ingest_text` — one SQLite transaction (WAL, BEGIN IMMEDIATE): a process killed part-way leaves
no trace of it, and two processes on one file queue for the write lock instead of corrupting it.
Every sentence and fact row carries the store's CRC, checked on every read. What it remembered
is then answerable by `KnowledgeBase` (the sentences and the "X is Y" facts) and seeds a PrismLM
(`memory.seed.kb_pairs`).

The entry's metadata lives in its document name, so no table beyond the KB's own is needed:
    source = "cogloop/<id>/<importance>/<kind>/<created, unix seconds>"
Retention of an entry = importance · 2^(−age / half_life). Before a consolidation that would
exceed `max_entries`, the entries of lowest retention are removed (one transaction each), so the
bound holds on disk. Entries are listed from the store's public readers (its sentences and their
documents); an entry's text is its sentences joined by spaces.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..io import atomic_write_json
from ..memory.inference import KnowledgeBase
from ..memory.ingest import ingest_text
from ..memory.kb_store import KBStore
from .working_memory import Episode

__all__ = ["Entry", "LongTermMemory", "PREFIX", "DEFAULT_MAX_ENTRIES", "DEFAULT_HALF_LIFE_S"]

PREFIX = "cogloop"
DEFAULT_MAX_ENTRIES = 1000
DEFAULT_HALF_LIFE_S = 30 * 86400.0  # a month-old entry counts half as much as a new one


@dataclass
class Entry:
    """One consolidation: id (12 hex digits), text, importance in [0, 1], kind ("explicit" or
    "consolidated"), created_at (unix seconds), source (its document in the KB)."""

    id: str
    text: str
    importance: float
    kind: str
    created_at: float
    source: str

    def retention(self, now: float, half_life_s: float) -> float:
        return self.importance * math.pow(2.0, -max(0.0, now - self.created_at) / half_life_s)

    def to_dict(self) -> dict:
        return asdict(self)


def _source(entry_id: str, importance: float, kind: str, created: float) -> str:
    return f"{PREFIX}/{entry_id}/{importance:.4f}/{kind}/{created:.6f}"


def _parse(source: str) -> tuple[str, float, str, float] | None:
    parts = source.split("/")
    if len(parts) != 5 or parts[0] != PREFIX:
        return None  # a document some other tool ingested: shown to no one, evicted never
    try:
        return parts[1], float(parts[2]), parts[3], float(parts[4])
    except ValueError:
        return None


class LongTermMemory:
    """`LongTermMemory(path, max_entries=1000, half_life_s=30 days, create=True, encoder="auto")`.

    path: the profile's KB file (created when missing only if `create`, else
    FileNotFoundError); encoder: how sentences are embedded and retrieved ("auto" | "sentence" |
    "lexical", see `memory.prose.sentence_encoder`)."""

    def __init__(
        self,
        path: str | os.PathLike,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        half_life_s: float = DEFAULT_HALF_LIFE_S,
        create: bool = True,
        encoder: str = "auto",
        timeout: float = 30.0,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an int >= 1, got {max_entries!r}")
        if not half_life_s > 0:
            raise ValueError(f"half_life_s must be > 0, got {half_life_s!r}")
        self.max_entries, self.half_life_s, self.encoder = max_entries, float(half_life_s), encoder
        self.store = KBStore(Path(path), timeout=timeout, create=create)
        self._kb: KnowledgeBase | None = None

    @property
    def path(self) -> Path:
        return self.store.path

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> LongTermMemory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def knowledge(self) -> KnowledgeBase:
        """The question-answering view of this memory (rebuilt when any process wrote since)."""
        if self._kb is None:
            self._kb = KnowledgeBase(self.store, encoder=self.encoder)
        return self._kb

    # ----------------------------------------------------------------------------- reads
    def entries(self) -> list[Entry]:
        """Every remembered entry, oldest first (checksums verified by the store)."""
        texts: dict[str, list[str]] = {}
        for pid in self.store.load_passages()["ids"].tolist():
            rec = self.store.get_passage(pid)
            texts.setdefault(rec.source, []).append(rec.text.strip())
        out = []
        for source, sentences in texts.items():
            meta = _parse(source)
            if meta is not None:
                out.append(Entry(meta[0], " ".join(sentences), meta[1], meta[2], meta[3], source))
        return sorted(out, key=lambda e: (e.created_at, e.id))

    def __len__(self) -> int:
        return len(self.entries())

    # ---------------------------------------------------------------------------- writes
    def consolidate(
        self,
        episodes: Iterable[Episode],
        kind: str = "consolidated",
        on_fact: Callable[[int], None] | None = None,
        now: float | None = None,
    ) -> Entry | None:
        """Write `episodes` as one entry (one transaction); None when there are none.
        importance = the largest of theirs. on_fact(i) runs after the i-th fact row is written,
        inside the transaction (progress and crash tests); now: its creation time (default: the
        clock)."""
        episodes = list(episodes)
        if not episodes:
            return None
        if kind not in ("consolidated", "explicit"):
            raise ValueError(f"kind must be 'consolidated' or 'explicit', got {kind!r}")
        text = "\n".join(e.text.strip() for e in episodes)
        if not any(ch.isalnum() for ch in text):
            raise ValueError(f"nothing to remember in {text!r}: it has no letters or digits")
        importance = max(float(e.importance) for e in episodes)
        created = time.time() if now is None else float(now)
        self.evict(room=1, now=created)
        entry_id = secrets.token_hex(6)
        source = _source(entry_id, importance, kind, created)
        ingest_text(self.store, text, source, on_fact=on_fact, sentences=self.encoder)
        return Entry(entry_id, text, importance, kind, created, source)

    def evict(self, room: int = 0, now: float | None = None) -> list[Entry]:
        """Remove the entries of lowest retention until at most max_entries − room remain;
        returns those removed. An entry another process removed first is skipped."""
        now = time.time() if now is None else now
        entries = self.entries()
        excess = len(entries) - (self.max_entries - room)
        if excess <= 0:
            return []
        ranked = sorted(entries, key=lambda e: (e.retention(now, self.half_life_s), e.created_at))
        gone = []
        for e in ranked[:excess]:
            try:
                self.store.remove_document(e.source)
                gone.append(e)
            except KeyError:
                pass  # evicted concurrently by another process on this profile
        return gone

    def forget(self, entry_id: str) -> Entry:
        """Delete one entry (its sentences and the facts only it stated); unknown id -> KeyError."""
        for e in self.entries():
            if e.id == entry_id:
                self.store.remove_document(e.source)
                return e
        raise KeyError(f"no remembered entry with id {entry_id!r}")

    def export(self, path: str | os.PathLike) -> int:
        """Write every entry to `path` as JSON (atomically); returns how many."""
        entries = self.entries()
        atomic_write_json(Path(path), {"profile": str(self.path), "entries": [e.to_dict() for e in entries]})
        return len(entries)
