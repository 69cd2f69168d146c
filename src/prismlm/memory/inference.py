"""KnowledgeBase: answers, not documents, from a `KBStore` — the one question-answering API.

    kb = KnowledgeBase(KBStore("kb.sqlite"))            # encoder "auto": MiniLM if installed
    ans = kb.ask("Who set up the Velmora Guild?")
    ans.value, ans.confidence, ans.sentence, ans.source  # "Arin Tosk", 0.71, "...", "guilds.md"
    kb.generate(question, model=lm)                      # retrieval in front of a model

Asking. A "what is X" question whose key X a document stated as "X is Y" is answered from the
fact tapes (the key's symbol unbound in its shard, cleaned up; `matched_by` "exact key"). Every
other question goes to the sentences (`retrieval.PassageIndex`: holographic dense recall and an
exact re-rank, or BM25 without a sentence encoder); the best sentence's answer span is cut out
by the kind of question (`answer.answer_span`: who / when / where / how many / what); of the
RERANK_K best sentences the most confident one answers.
Confidence = coverage² · kind · similarity, where coverage is the fraction of the question's
names (capitalised words, numbers) present in the sentence, kind is 1 when a span of the asked
kind was found (KIND_MISS otherwise) and similarity is the re-rank cosine (dense) or the
normalised BM25 score (lexical), plus the verb-sense agreement: sentence embeddings
blur verbs of one frame ("set up" sits nearer "headed by" than "founded by"), so when the
question's verb sense (`lexical.senses`, a small English synonym lexicon) differs from the
sentence's own, SENSE_WEIGHT is taken off, and when they agree (in a sentence naming the whole
subject) it is added. Coverage enters squared: a sentence naming half the subject ("the Orrin
Society" for "the Velm Society") is weak evidence, so absent entities get "I don't know".
Below `threshold` (THRESHOLDS per retriever) the answer is
"I don't know" (value None) and the best guess is kept in `guess`.
Tapes and indexes are rebuilt when another process committed since (`refresh`). Values stored
under the answered key by other documents are listed in `conflicts`, never hidden.
`HoloInference` is this class under its former name.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from .answer import answer_span, question_kind, question_names
from .encoders import TextHashEncoder, normalize_text
from .ingest import question_to_key
from .kb_store import KBStore
from .lexical import senses
from .prose import sentence_encoder
from .retrieval import PassageIndex
from .sharded import ShardedHoloMemory, route_key

__all__ = ["Answer", "KnowledgeBase", "HoloInference", "THRESHOLDS", "KIND_MISS", "RERANK_K", "IDK"]

THRESHOLDS = {"sentence": 0.3, "lexical": 0.15, "fact": 0.2}
KIND_MISS = 0.4
RERANK_K = 12  # retrieved sentences judged per question (the subject's own come first)
SENSE_WEIGHT = 0.15
IDK = "I don't know"


@dataclass
class Answer:
    """An answer. value: the answer span (None: "I don't know"); confidence in [0, 1]; source,
    line, sentence_start/sentence_end: the source sentence's document and span in it;
    answer_start/answer_end: the span inside `sentence`; matched_by: how it was found; guess:
    the best candidate when value is None; from_tape: whether the holographic recall proposed
    the sentence (None on the lexical path). Fact-tape answers also carry key, fact_id, score
    (cosine of the unbound vector), strength (score·√load) and conflicts [{fact_id, value,
    source}]."""

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
    confidence: float = 0.0
    kind: str = "thing"
    passage_id: int | None = None
    line: int | None = None
    sentence_start: int | None = None
    sentence_end: int | None = None
    answer_start: int | None = None
    answer_end: int | None = None
    guess: str | None = None
    from_tape: bool | None = None

    @property
    def known(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict:
        return asdict(self)


def _sense(question: str, sentence: str, coverage: float) -> float:
    """+SENSE_WEIGHT when the sentence's verb sense agrees with the question's (and it names the
    whole subject), −SENSE_WEIGHT when it has another, else 0."""
    asked = senses(question)
    said = senses(sentence) if asked else set()
    if asked & said:
        return SENSE_WEIGHT if coverage >= 1.0 else 0.0
    return -SENSE_WEIGHT if said else 0.0


class KnowledgeBase:
    """Question answering over a `KBStore`; see the module docstring.

    encoder: "auto" | "sentence" | "lexical" | a SentenceEncoder (`prose.sentence_encoder`);
    threshold: confidence below which the answer is "I don't know" (default per retriever)."""

    def __init__(self, store: KBStore, target: float = 0.99, encoder="auto",
                 threshold: float | None = None) -> None:  # fmt: skip
        self.store, self.target, self.threshold = store, target, threshold
        self.encoder = TextHashEncoder(store.dim)
        if self.encoder.name != store.encoder:
            raise ValueError(f"store was encoded with {store.encoder}, not {self.encoder.name}")
        self.sentence_encoder = sentence_encoder(encoder)
        self.memory: ShardedHoloMemory | None = None
        self.passages: PassageIndex | None = None
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
        self.passages = PassageIndex.build(self.store.load_passages(), self.sentence_encoder, self.target)
        self._generation = gen
        return True

    @property
    def mode(self) -> str:
        """"sentence" (dense retrieval) or "lexical" (BM25)."""
        return self.passages.mode if self.passages is not None else "lexical"

    def _limit(self, mode: str) -> float:
        return THRESHOLDS[mode] if self.threshold is None else self.threshold

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
        strength = score * math.sqrt(max(load, 1))
        return Answer(
            question, key, rec.value_text, fid, score, strength, matched_by, shard, rec.source,
            rec.sentence, others, confidence=max(0.0, min(1.0, strength)), line=rec.line,
            sentence_start=rec.char_start, sentence_end=rec.char_end,
        )  # fmt: skip

    def similar_keys(self, key: str, k: int = 3) -> list[tuple[str, float]]:
        """Stored keys ranked by word overlap (Jaccard) with `key`."""
        words = set(key.split())
        cands = set().union(*(self._words.get(w, set()) for w in words)) if words else set()
        scored = [(c, len(words & set(c.split())) / len(words | set(c.split()))) for c in cands]
        return sorted(scored, key=lambda t: (-t[1], t[0]))[:k]

    def _judge(self, question: str, hit) -> tuple[float, object, object]:
        """(confidence, passage record, span) of one retrieved sentence (module docstring)."""
        rec = self.store.get_passage(hit.passage_id)
        span = answer_span(question, rec.text)
        names = question_names(question)
        seen = set(normalize_text(f"{rec.context or ''} {rec.text}").split())
        coverage = len(names & seen) / len(names) if names else 1.0
        sim = (hit.cosine if hit.cosine is not None else hit.lexical) + _sense(question, rec.text, coverage)
        kind = 1.0 if span.typed else KIND_MISS
        return max(0.0, min(1.0, coverage**2 * kind * sim)) if span.text else 0.0, rec, span

    def _from_sentences(self, question: str, key: str) -> Answer:
        kind = question_kind(question)
        hits = self.passages.search(question, k=RERANK_K)
        if not hits:
            return Answer(question, key, None, None, 0.0, 0.0, f"{IDK} (no sentence shares a word)",
                          kind=kind)  # fmt: skip
        # the most confident of the best few: a sentence holding an answer of the asked kind wins
        # over a slightly more similar one that holds none
        judged = [(self._judge(question, h), -i, h) for i, h in enumerate(hits)]
        (conf, rec, span), _, hit = max(judged, key=lambda t: (t[0][0], t[1]))
        limit = self._limit(self.passages.mode)
        known = span.text is not None and conf >= limit
        how = f"{self.passages.mode} retrieval" if known else f"{IDK} (confidence {conf:.2f} < {limit})"
        return Answer(
            question, key, span.text if known else None, None, hit.score, 0.0, how,
            source=rec.source, sentence=rec.text, confidence=conf, kind=kind,
            passage_id=rec.id, line=rec.line, sentence_start=rec.char_start,
            sentence_end=rec.char_end, answer_start=span.start if span.text else None,
            answer_end=span.end if span.text else None, guess=None if known else span.text,
            from_tape=hit.from_tape if hit.cosine is not None else None,
        )  # fmt: skip

    def ask(self, question: str) -> Answer:
        """Answer one question (see module docstring). Empty question -> ValueError."""
        if not isinstance(question, str):
            raise TypeError(f"question must be a str, got {type(question).__name__}")
        if not normalize_text(question):
            raise ValueError(f"cannot ask an empty question: {question!r}")
        self.refresh()
        key = question_to_key(question)
        has_sentences = self.passages is not None and len(self.passages) > 0
        if self.memory is not None and self.store.has_key(key):
            if question_kind(question) == "thing" or not has_sentences:
                return self._retrieve(key, question, "exact key")
        if has_sentences:
            return self._from_sentences(question, key)
        if self.memory is None:
            return Answer(question, key, None, None, 0.0, 0.0, f"{IDK} (empty knowledge base)")
        near = self.similar_keys(key)
        if not near:
            return Answer(question, key, None, None, 0.0, 0.0, f"{IDK} (no stored key shares a word)")
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
        """Generation with retrieval. Without a model: the answer of `ask`. With a byte-level
        `SequenceLM` (vocab ≥ 256): the k best sentences (or, without sentences, the retrieved
        facts "key is value.") are put in context before the question; the model continues."""
        if model is None:
            a = self.ask(question)
            return a.value if a.value is not None else "I have no stored fact about that."
        self.refresh()
        if self.passages is not None and len(self.passages):
            lines = [self.passages.texts[h.row] for h in self.passages.search(question, k)]
        else:
            lines = [f"{a.key} is {a.value}." for a in self.context(question, k) if a.value]
        prompt = " ".join(lines) + f" {question} "
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
        report["passages"] = {"mode": self.mode, "sentences": len(self.passages or []),
                              "binds": self.passages.n_binds if self.passages else 0}  # fmt: skip
        return report


HoloInference = KnowledgeBase  # the former name of this class
