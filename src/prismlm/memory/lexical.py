"""BM25 over sentences: the lexical retriever (used alone when no sentence encoder is installed,
and beside the dense one to keep exact names decisive).

    index = BM25Index(texts)                  # one pass over the texts: O(total words)
    index.search("who set up the guild", k=8) # [(row, score)], best first
    index.normalised(query, rows)             # scores / the query's ceiling, in [0, 1]

score(q, d) = Σ_{t ∈ q} idf(t) · tf(t, d)·(k1 + 1) / (tf(t, d) + k1·(1 − b + b·|d| / avgdl)),
idf(t) = ln(1 + (N − n_t + 0.5) / (n_t + 0.5)) (Robertson–Spärck Jones, kept positive).
Terms are `normalize_text` words (any script) minus a short English stop list, with a light
plural/suffix stripping ("founders" -> "founder", "founded" -> "found"), so the index and a
query agree on word forms. The ceiling Σ idf(t)·(k1 + 1) over the query's terms bounds any
document's score, which makes the normalised score comparable across questions.
"""

from __future__ import annotations

import math
from collections import Counter

from .encoders import normalize_text

__all__ = ["BM25Index", "terms", "STOPWORDS", "SENSES", "senses"]

STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being it its "
    "this that these those as into than then there their they he she his her who whom whose what "
    "which when where why how does do did has have had can could will would shall should may might "
    "i you we me my our your not no so if".split()
)


def _stem(w: str) -> str:
    if len(w) > 5 and w.endswith("ing"):
        return w[:-3]
    if len(w) > 4 and w.endswith("ed"):
        return w[:-2]
    if len(w) > 4 and w.endswith("es") and w[-3] in "sxz":
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def terms(text: str) -> list[str]:
    """Index terms of a text: normalised words, stop words dropped, lightly stemmed."""
    return [_stem(w) for w in normalize_text(text).split() if w not in STOPWORDS]


class BM25Index:
    """Okapi BM25 over a fixed list of texts (rows 0..N-1). k1, b: the usual constants."""

    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.postings: dict[str, list[tuple[int, int]]] = {}
        self.lengths: list[int] = []
        for row, text in enumerate(texts):
            tf = Counter(terms(text))
            self.lengths.append(sum(tf.values()))
            for t, c in tf.items():
                self.postings.setdefault(t, []).append((row, c))
        self.n = len(texts)
        self.avgdl = (sum(self.lengths) / self.n) if self.n else 0.0
        self.idf = {
            t: math.log(1 + (self.n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()
        }

    def __len__(self) -> int:
        return self.n

    def scores(self, query: str) -> dict[int, float]:
        """{row: BM25 score} for every row sharing a term with the query (others score 0)."""
        out: dict[int, float] = {}
        k1, b, avg = self.k1, self.b, max(self.avgdl, 1e-9)
        for t in set(terms(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for row, tf in self.postings[t]:
                norm = k1 * (1 - b + b * self.lengths[row] / avg)
                out[row] = out.get(row, 0.0) + idf * tf * (k1 + 1) / (tf + norm)
        return out

    def ceiling(self, query: str) -> float:
        """Σ idf(t)·(k1 + 1) over the query's known terms: no row can score more."""
        return sum(self.idf.get(t, 0.0) for t in set(terms(query))) * (self.k1 + 1)

    def search(self, query: str, k: int = 8) -> list[tuple[int, float]]:
        """The k best rows and their scores, best first (ties by row)."""
        s = self.scores(query)
        return sorted(s.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


# Verb senses that sentence embeddings blur (MiniLM puts "set up" nearer "headed by" than
# "founded by"): general English synonym groups, one- or two-word stems as `terms` makes them.
# A question and a sentence whose relation words fall in different groups say different things.
SENSES = {
    "create": "found founder foundation establish start set_up begin began begun launch create "
              "creat originate originat institute institut inaugurate inaugurat pioneer",
    "lead": "lead leader head run direct director manag manage manager chair chairman chairwoman "
            "govern preside president oversee charge command boss chief helm",
    "teach": "teach taught train tutor mentor instruct coach apprentice pupil student",
    "make": "make made manufacture manufactur produce produc product build built craft "
            "fabricate fabricat",
}
_SENSE_OF = {w: name for name, ws in SENSES.items() for w in ws.split()}


def senses(text: str) -> set[str]:
    """The SENSES groups a text's words (and adjacent word pairs, "set up") belong to."""
    t = terms(text)
    pairs = [f"{a}_{b}" for a, b in zip(t, t[1:], strict=False)]
    return {_SENSE_OF[w] for w in t + pairs if w in _SENSE_OF}
