"""HoloInference: answer questions from the holographic store, alone or in front of a model.

    kb = HoloInference(KBStore("kb.sqlite"))
    ans = kb.ask("What is the capital of France?")   # Answer(value="Paris", score=..., ...)
    kb.generate("What is the capital of France?", model=lm, max_new_tokens=32)

The tapes are rebuilt from the store's vectors (`refresh` re-reads whenever another process has
committed since). Asking maps the question to a key (`ingest.question_to_key`); when that exact
key is stored, the key's symbol is routed to its shard and unbound there — the answer is whatever
the tape's cleanup returns, with its cosine and provenance. When it is not stored, the closest
stored keys by word overlap are tried instead and the answer says so (`matched_by`). When the
store holds other values for the answered key (another document disagrees, or the key is
multi-valued), they are listed in `Answer.conflicts` with their sources, never hidden.
All reads go through `KBStore`'s typed readers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from .encoders import TextHashEncoder, normalize_text
from .ingest import question_to_key
from .kb_store import KBStore
from .sharded import ShardedHoloMemory, route_key

__all__ = ["Answer", "HoloInference"]


@dataclass
class Answer:
    """A retrieved fact. score: cosine between the unbound vector and the answer's value;
    strength: score·√(shard load) (≈ 1 for a clean hit, ≈ 0 for noise); conflicts: the other
    values stored for the same key, [{fact_id, value, source}]."""

    question: str
    key: str
    value: str | None
    fact_id: int | None
    score: float
    strength: float
    matched_by: str
    shard: int | None = None
    source: str | None = None
    sentence: str | None = None
    conflicts: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class HoloInference:
    """Sharded holographic retrieval over a `KBStore`; see the module docstring."""

    def __init__(self, store: KBStore, target: float = 0.99) -> None:
        self.store, self.target = store, target
        self.encoder = TextHashEncoder(store.dim)
        if self.encoder.name != store.encoder:
            raise ValueError(f"store was encoded with {store.encoder}, not {self.encoder.name}")
        self.memory: ShardedHoloMemory | None = None
        self._generation = -1
        self._words: dict[str, set[str]] = {}
        self.refresh()

    def refresh(self) -> bool:
        """Rebuild the tapes if the store changed since the last build; True if rebuilt."""
        gen = self.store.generation()
        if gen == self._generation:
            return False
        data = self.store.load_vectors()
        routes = torch.tensor([route_key(k) for k in data["key_norms"]], dtype=torch.int64)
        if len(routes):
            self.memory = ShardedHoloMemory.build(
                data["keys"], data["values"], data["ids"], routes, self.target
            )
        else:
            self.memory = None
        self._words = {}
        for kn in set(data["key_norms"]):
            for w in kn.split():
                self._words.setdefault(w, set()).add(kn)
        self._generation = gen
        return True

    def _retrieve(self, key: str, question: str, matched_by: str) -> Answer:
        sym = self.encoder.symbol(key)
        r = route_key(key)
        res = self.memory.query(sym, torch.tensor([r]))
        fid, score = int(res.fact_ids[0, 0]), float(res.scores[0, 0])
        shard = int(r % self.memory.n_shards)
        load = len(self.memory.shards[shard])
        rec = self.store.get_fact(fid)
        others = [
            {"fact_id": o.id, "value": o.value_text, "source": o.source}
            for o in self.store.facts_for_key(rec.key_norm)
            if o.id != fid
        ]
        return Answer(
            question, key, rec.value_text, fid, score, score * math.sqrt(max(load, 1)),
            matched_by, shard, rec.source, rec.sentence, others,
        )  # fmt: skip

    def similar_keys(self, key: str, k: int = 3) -> list[tuple[str, float]]:
        """Stored keys ranked by word overlap (Jaccard) with `key`."""
        words = set(key.split())
        cands = set().union(*(self._words.get(w, set()) for w in words)) if words else set()
        scored = [(c, len(words & set(c.split())) / len(words | set(c.split()))) for c in cands]
        return sorted(scored, key=lambda t: (-t[1], t[0]))[:k]

    def ask(self, question: str) -> Answer:
        """Answer one question (see module docstring). Empty question -> ValueError."""
        if not normalize_text(question):
            raise ValueError(f"cannot ask an empty question: {question!r}")
        self.refresh()
        key = question_to_key(question)
        if self.memory is None:
            return Answer(question, key, None, None, 0.0, 0.0, "empty knowledge base")
        if self.store.has_key(key):
            return self._retrieve(key, question, "exact key")
        near = self.similar_keys(key)
        if not near:
            return Answer(question, key, None, None, 0.0, 0.0, "no stored key shares a word")
        best, overlap = near[0]
        return self._retrieve(best, question, f"nearest stored key (word overlap {overlap:.2f})")

    def context(self, question: str, k: int = 3) -> list[Answer]:
        """Up to k retrieved facts for a question: its exact key first, then similar keys."""
        key = question_to_key(question)
        self.refresh()
        if self.memory is None:
            return []
        keys = [key] if self.store.has_key(key) else []
        keys += [c for c, _ in self.similar_keys(key, k) if c not in keys]
        return [self._retrieve(c, question, "context") for c in keys[:k]]

    def generate(
        self,
        question: str,
        model=None,
        max_new_tokens: int = 32,
        k: int = 3,
        temperature: float = 0.0,
    ) -> str:
        """Generation with retrieval. Without a model: a sentence built from the retrieved fact.
        With a byte-level `SequenceLM` (vocab ≥ 256): the retrieved facts are put in context
        ("key is value." ...) before the question and the model continues the text."""
        facts = self.context(question, k)
        if model is None:
            if not facts or facts[0].value is None:
                return "I have no stored fact about that."
            a = facts[0]
            return f"{a.key} is {a.value}."
        prompt = " ".join(f"{a.key} is {a.value}." for a in facts if a.value) + f" {question} "
        ids = torch.tensor([list(prompt.encode("utf-8"))], dtype=torch.int64)
        out = model.generate(ids, max_new_tokens, temperature=temperature)
        return bytes(int(t) % 256 for t in out[0, ids.shape[1] :].tolist()).decode("utf-8", errors="replace")

    @torch.no_grad()
    def head_tape(self, head, embed, limit: int | None = None) -> torch.Tensor:
        """In-context use without training: the initial tape H_0 [D] of a `HoloMemory` layer holding
        the stored facts, bound with the head's own encoders. embed(texts) -> [N, d_model]
        maps key and value texts into the model's space (e.g. mean token embedding)."""
        rows = self.store.key_values(limit)
        if not rows:
            return torch.zeros(head.config.dim)
        keys, values = zip(*rows, strict=True)
        return head.write_facts(embed(list(keys)), embed(list(values)))

    def stats(self) -> dict:
        self.refresh()
        report = self.store.stats()
        report["tapes"] = self.memory.report() if self.memory is not None else {"n_shards": 0}
        return report
