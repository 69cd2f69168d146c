"""Which stored sentence answers a question: holographic dense recall, then an exact re-rank.

    index = PassageIndex.build(store.load_passages(), encoder)   # encoder None: BM25 only
    hits = index.search("Who set up the Velmora Guild?", k=5)   # [Hit(row, id, score, ...)]

Dense path (a sentence encoder is installed and the passages were embedded by it): every
sentence has two embeddings (`prose.passage_dicts`): e_i of the sentence (with its pronoun
context) and r_i of its `relation_text` (names and numbers dropped: what is said, not of whom).
  * binding — k_i = sign((e_i − ē) P) ([PASSAGE_DIM], `SentenceEncoder.codes`; ē the mean
    embedding, which all sentences share and which tells them apart not at all); the value v_i
    is the atomic symbol of the passage id (`TextHashEncoder.symbol`). One bind per sentence,
    H_s += k_i ⊙ v_i, into ⌈N / SHARD_LOAD⌉ shards routed by passage id; no parameter is trained
    and no gradient is taken.
  * cleanup — a question's code q is unbound in every shard and cleaned up against that shard's
    values: cos(q ⊙ H_s, v_i) = cos(q, k_i) + crosstalk of std √(n_s / D), so the tape ranks
    sentences by code similarity; its top RECALL_K over all shards are candidates (all shards'
    codebooks are one matrix, so this is one product). Shards are kept small because related
    sentences differ in code cosine by only ~0.1.
  * subject — every sentence naming all of the question's names (`answer.question_names`; a
    pronoun sentence through its context) is a candidate too, and ranks before those that do
    not: the answer is about the entity asked about, however the relation is worded.
  * re-rank — candidates (plus BM25's top RECALL_K, so an exact rare name is never lost) are
    scored c_i + LEXICAL_WEIGHT · bm25_norm(q, i), c_i = (cos(e_q, e_i) + RELATION_WEIGHT ·
    cos(r_q, r_i)) / (1 + RELATION_WEIGHT), exact cosines (c_i is the hit's `cosine`).
Lexical path: BM25 alone, score = bm25_norm ∈ [0, 1] (`lexical.BM25Index`).
`Hit.from_tape` (and the benchmark's `tape_proposed_winner`) says how often the tape's recall
proposed the winning sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .answer import question_names, relation_text
from .encoders import SentenceEncoder, TextHashEncoder
from .lexical import BM25Index, terms
from .sharded import ShardedHoloMemory, route_keys_for_ids

__all__ = ["Hit", "PassageIndex", "PASSAGE_DIM", "SHARD_LOAD", "RECALL_K", "LEXICAL_WEIGHT"]

PASSAGE_DIM = 4096
SHARD_LOAD = 16  # crosstalk std √(n/D) ≈ 0.06 ≪ the code-cosine gap between related sentences
RECALL_K = 16
LEXICAL_WEIGHT = 0.5
RELATION_WEIGHT = 2.0  # the sentence cosine is dominated by the names every candidate shares
ENTITY_ROWS = 64  # sentences naming the question's subject, always candidates (best BM25 first)
QUERY_CACHE = 1024  # question embeddings kept


@dataclass
class Hit:
    """A retrieved sentence: its row in the index, passage id, final score, the dense cosine
    (None on the lexical path), the normalised BM25 score, whether the tape recalled it, and
    the share of the question's names the sentence (with its context) holds."""

    row: int
    passage_id: int
    score: float
    cosine: float | None
    lexical: float
    from_tape: bool
    coverage: float = 1.0


class PassageIndex:
    """Sentence retrieval over a store's passages; see the module docstring."""

    def __init__(self, ids, texts, bm25, encoder=None, emb=None, memory=None) -> None:
        self.ids, self.texts, self.bm25 = ids, texts, bm25
        self.encoder, self.emb, self.memory = encoder, emb, memory
        self.n_binds = len(memory) if memory is not None else 0
        self._qcache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if memory is not None:
            self._pack_tapes()

    @property
    def mode(self) -> str:
        return "sentence" if self.memory is not None else "lexical"

    @classmethod
    def build(cls, data: dict, encoder: SentenceEncoder | None, target: float = 0.99) -> PassageIndex:
        """From `KBStore.load_passages()`; dense only when `encoder` is given and every passage
        carries an embedding by that encoder (else lexical, whatever the encoder)."""
        ids, texts = data["ids"], data["texts"]
        bm25 = BM25Index(texts)
        from .prose import dense_name

        usable = (
            encoder is not None and data["emb"] is not None and len(ids)
            and set(data["encoders"]) == {dense_name(encoder)}
        )  # fmt: skip
        if not usable:
            return cls(ids, texts, bm25)
        emb = data["emb"]
        w = emb.shape[1] // 2
        full, rel = emb[:, :w], emb[:, w:]
        center = full.mean(0)  # the direction all sentences share carries no information
        keys = encoder.codes(full - center).to(torch.int8)
        values = TextHashEncoder(encoder.dim).symbol([f"passage {i}" for i in ids.tolist()]).to(torch.int8)
        memory = ShardedHoloMemory(encoder.dim, max(1, math.ceil(len(ids) / SHARD_LOAD)))
        for tape in memory.shards:
            tape.cache_codebook = False  # the index keeps one codebook for all shards (_pack_tapes)
        memory.bind_many(keys, values, ids, route_keys_for_ids(ids))
        index = cls(ids, texts, bm25, encoder, full, memory)
        index.rel, index.center = rel, center
        return index

    def __len__(self) -> int:
        return len(self.texts)

    def _pack_tapes(self) -> None:
        """Every shard's cleanup codebook in one matrix: row m (a value of shard s) is
        W_m = v_m ⊙ H_s / (‖H_s‖ √d), as `HoloTape._read_matrix` builds it, so q · W_m is that
        shard's cleanup score cos(q ⊙ H_s, v_m) and one [N, d] @ [d] product reads all shards
        (30× faster than a query per shard; costs 4·d bytes per sentence)."""
        shards = [t for t in self.memory.shards if len(t)]
        self._codebook = torch.cat(
            [t.values() * (t.tape / (t.tape.norm().clamp_min(1e-12) * math.sqrt(t.dim))) for t in shards]
        )
        self._pids = torch.cat([t.fact_ids() for t in shards])

    def _tape_candidates(self, code: torch.Tensor, k: int) -> list[int]:
        """Passage ids the tapes' cleanup ranks highest over all shards (top k)."""
        scores = self._codebook @ code.to(torch.float32)
        return self._pids[scores.topk(min(k, len(scores))).indices].tolist()

    def _embed_question(self, question: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(e_q, r_q) [384] each, cached: a question asked again costs no encoder pass."""
        got = self._qcache.get(question)
        if got is None:
            if len(self._qcache) >= QUERY_CACHE:
                self._qcache.pop(next(iter(self._qcache)))
            e, er = self.encoder.embed([question, relation_text(question)])
            got = self._qcache[question] = (e, er)
        return got

    def entity_rows(self, question: str) -> tuple[set[int], dict[int, float]]:
        """(rows naming every name of the question, {row: share of its names named}) — a
        sentence's context counts, so "It employs 340 people." names what "It" stands for."""
        names = question_names(question)
        seen: dict[int, int] = {}
        for name in names:
            for r in {row for t in terms(name) for row, _ in self.bm25.postings.get(t, ())}:
                seen[r] = seen.get(r, 0) + 1
        share = {r: c / len(names) for r, c in seen.items()} if names else {}
        return {r for r, c in share.items() if c >= 1.0}, share

    def search(self, question: str, k: int = 5) -> list[Hit]:
        """The k best sentences for a question, best first: those naming all of the question's
        names (its subject) before those that do not, then by score."""
        if not len(self):
            return []
        lex = self.bm25.scores(question)
        ceiling = max(self.bm25.ceiling(question), 1e-9)
        lex_top = sorted(lex, key=lambda r: -lex[r])[:RECALL_K]
        subject, share = self.entity_rows(question)
        if len(subject) > ENTITY_ROWS:  # a common name: keep its best-matching sentences
            subject = set(sorted(subject, key=lambda r: -lex[r])[:ENTITY_ROWS])
        if self.memory is None:
            rows = set(lex_top) | subject
            hits = [Hit(r, int(self.ids[r]), lex[r] / ceiling, None, lex[r] / ceiling, False,
                        share.get(r, 0.0)) for r in rows]  # fmt: skip
        else:
            e, er = self._embed_question(question)
            tape_ids = self._tape_candidates(self.encoder.codes((e - self.center)[None])[0], RECALL_K)
            row_of = self._row_of()
            tape_rows = {row_of[p] for p in tape_ids}
            rows = sorted(tape_rows | set(lex_top) | subject)
            mixed = (self.emb[rows] @ e + RELATION_WEIGHT * (self.rel[rows] @ er)) / (1 + RELATION_WEIGHT)
            hits = []
            for r, c in zip(rows, mixed.tolist(), strict=True):
                ln = lex.get(r, 0.0) / ceiling
                hits.append(Hit(r, int(self.ids[r]), c + LEXICAL_WEIGHT * ln, c, ln, r in tape_rows,
                                share.get(r, 0.0)))  # fmt: skip
        hits.sort(key=lambda h: (-h.coverage, -h.score, h.row))
        return hits[:k]

    def _row_of(self) -> dict[int, int]:
        if not hasattr(self, "_rows"):
            self._rows = {int(p): r for r, p in enumerate(self.ids.tolist())}
        return self._rows

    def memory_bytes(self) -> int:
        """Bytes held by the tapes (accumulators, keys, values, cleanup codebooks) and the
        float embeddings."""
        total = 0 if self.emb is None else self.emb.numel() * 4 * 2  # sentence + relation
        for t in self.memory.shards if self.memory is not None else []:
            total += t.tape.numel() * 4 + t._keys.numel() + t._values.numel() + t._ids.numel() * 8
        if self.memory is not None:  # the batched cleanup's copy of the values and accumulators
            total += self._codebook.numel() * 4 + self._pids.numel() * 8
        return total
