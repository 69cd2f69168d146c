"""The answer span inside a retrieved sentence: what the question asks for, found by type.

    kind = question_kind("How many people work for the Velmora Guild?")   # "number"
    span = answer_span(question, sentence)   # Span(text="340", start, end, kind, typed=True)

Question kinds (from the wh-word and the noun after "what/which"): person (who, whom, whose,
which person/man/woman...), date (when, what year/date/century), place (where, which town/city/
country...), number (how many/much/old/long..., what number/population/count...), and thing
(any other what/which). Candidates in the sentence, tokenised in one pass:
  * numbers — digit groups ("3,200", "4.5") and number words (one … twenty, hundred, thousand),
  * years — four-digit numbers 1000-2099, and dates "12 March 1887" / "March 12, 1887",
  * names — runs of capitalised words, joined by of/de/van/von/la/del/du.
A candidate the question already names (all its words appear in the question, or it shares a
capitalised word with it) is not an answer. A person is a name of ≥ 2 words, a place a name
after in/at/near/from/to/on, a number a count; a one-word "person", a "place" with no
preposition, a year as a count are returned untyped. "which/what <noun>" asks for a new name
when the sentence has that noun ("which river"). Otherwise (a "thing", or no candidate of the
asked kind) the answer is the longest run of content words the question lacks (ties: the last;
prepositions and verb particles end a run: "turn out oak barrels" holds "oak barrels"),
typed only when it holds no name or number (those have their own question words). `typed` says
whether a candidate of the asked kind was found — the knowledge base's confidence uses it.
`relation_text` drops the names and numbers, leaving what is said about them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .encoders import normalize_text
from .lexical import STOPWORDS

__all__ = ["Span", "question_kind", "answer_span", "relation_text", "question_names", "KINDS"]

KINDS = ("person", "date", "place", "number", "thing")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred thousand million dozen".split()
)
_JOINERS = frozenset("of de van von la del du da di".split())
_PLACE_PREPS = frozenset("in at near from to on into beside along across outside".split())
_PERSON_NOUNS = frozenset("person man woman people individual scientist founder leader".split())
_DATE_NOUNS = frozenset("year date century decade day month".split())
_PLACE_NOUNS = frozenset("town city country place village region island province state".split())
_NUMBER_NOUNS = frozenset("number population count total headcount size amount".split())
_HOW_NUMBER = frozenset("many much old long tall large big far".split())
# prepositions, verb particles and adverbs (general English): never inside a noun phrase answer,
# so "turn out oak barrels" / "grew up" split at "out" / "up"
_PARTICLES = frozenset(
    "about above across after against along among around away back before behind below beneath "
    "beside besides between beyond down during except inside like near off onto out outside over "
    "past per since through throughout toward towards under until unto up upon via within without "
    "also very only just even still often ever now once".split()
)


@dataclass
class Span:
    """An answer span: its text, [start, end) in the sentence, the kind asked, and whether a
    candidate of that kind was found (else a fallback span, or text None)."""

    text: str | None
    start: int
    end: int
    kind: str
    typed: bool


def question_kind(question: str) -> str:
    """One of KINDS for a question (see module docstring)."""
    w = normalize_text(question).split()
    for i, t in enumerate(w):
        nxt = w[i + 1] if i + 1 < len(w) else ""
        if t in ("who", "whom", "whose"):
            return "person"
        if t == "when":
            return "date"
        if t == "where":
            return "place"
        if t == "how" and nxt in _HOW_NUMBER:
            return "number"
        if t in ("what", "which"):
            rest = set(w[i + 1 : i + 4])
            for nouns, kind in ((_PERSON_NOUNS, "person"), (_DATE_NOUNS, "date"),
                                (_PLACE_NOUNS, "place"), (_NUMBER_NOUNS, "number")):  # fmt: skip
                if rest & nouns:
                    return kind
            return "thing"
    return "thing"


def _asked_noun(question: str) -> str | None:
    """The noun of "which/what <noun> ..." (None for "what is/does ...")."""
    w = normalize_text(question).split()
    for i, t in enumerate(w[:-1]):
        if t in ("what", "which"):
            return None if w[i + 1] in STOPWORDS else w[i + 1]
    return None


def _tokens(sentence: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(sentence)]


def _is_year(t: str) -> bool:
    return len(t) == 4 and t.isdigit() and 1000 <= int(t) <= 2099


def _candidates(toks: list[tuple[str, int, int]]) -> dict[str, list[tuple[int, int]]]:
    """Token index ranges [i, j) per candidate type: number, year, date, name."""
    out: dict[str, list[tuple[int, int]]] = {"number": [], "year": [], "date": [], "name": []}
    n, i = len(toks), 0
    while i < n:
        t = toks[i][0]
        low = t.casefold()
        if low in _MONTHS:  # "March 1887", "March 12, 1887"
            j = i + 1
            while j < n and j - i <= 2 and toks[j][0].isdigit():
                j += 1
            if j > i + 1:
                out["date"].append((i, j))
        if t[0].isdigit():
            (out["year"] if _is_year(t) else out["number"]).append((i, i + 1))
            if i + 1 < n and toks[i + 1][0].casefold() in _MONTHS:  # "12 March 1887"
                j = i + 3 if i + 2 < n and _is_year(toks[i + 2][0]) else i + 2
                out["date"].append((i, j))
        elif low in _NUMBER_WORDS:
            j = i
            while j < n and toks[j][0].casefold() in _NUMBER_WORDS:
                j += 1
            out["number"].append((i, j))
            i = j
            continue
        elif t[0].isupper() and low not in STOPWORDS and low not in _MONTHS:
            j = i + 1
            while j < n and (toks[j][0][0].isupper() or (
                toks[j][0] in _JOINERS and j + 1 < n and toks[j + 1][0][0].isupper())):  # fmt: skip
                j += 1
            out["name"].append((i, j))
            i = j
            continue
        i += 1
    return out


def answer_span(question: str, sentence: str) -> Span:
    """The span of `sentence` answering `question` (see module docstring)."""
    kind = question_kind(question)
    qwords = set(normalize_text(question).split())
    toks = _tokens(sentence)
    cands = _candidates(toks)

    qnames = {normalize_text(w) for w in question.split()[1:] if w[:1].isupper()}

    def new(rng: tuple[int, int]) -> bool:
        """Not the question's own entity: some word the question lacks, none of its names."""
        words = [normalize_text(toks[k][0]) for k in range(*rng)]
        return not all(w in qwords or w in _JOINERS for w in words) and not qnames & set(words)

    def span(rng: tuple[int, int], typed: bool = True) -> Span:
        s, e = toks[rng[0]][1], toks[rng[1] - 1][2]
        return Span(sentence[s:e], s, e, kind, typed)

    def after_prep(rng: tuple[int, int]) -> bool:
        return rng[0] > 0 and toks[rng[0] - 1][0].casefold() in _PLACE_PREPS

    names = [r for r in cands["name"] if new(r)]
    if kind == "person" and names:  # a one-word name may be a place: found, but not typed
        best = max(names, key=lambda r: (r[1] - r[0] >= 2, -r[0]))
        return span(best, typed=best[1] - best[0] >= 2)
    if kind == "place" and names:
        best = max(names, key=lambda r: (after_prep(r), r[1] - r[0] == 1, -r[0]))
        return span(best, typed=after_prep(best))
    if kind == "date":
        dates = [r for r in cands["date"] + cands["year"] if new(r)]
        if dates:
            return span(max(dates, key=lambda r: (r[1] - r[0], -r[0])))
    noun = _asked_noun(question) if kind == "thing" else None
    if noun and names and noun in {normalize_text(t) for t, _, _ in toks}:
        return span(names[0])  # "which river ..." and the sentence names a river
    if kind == "number":
        nums = [r for r in cands["number"] if new(r)]
        years = [r for r in cands["year"] if new(r)]
        if nums or years:  # a lone year is a weak count
            return span((nums or years)[0], typed=bool(nums))
    # fallback: the longest run of content words the question does not contain
    best, run = None, None
    for k, (t, _, _) in enumerate(toks):
        w = normalize_text(t)
        if w in qwords or w in STOPWORDS or w in _PARTICLES:
            run = None
            continue
        run = (run[0], k + 1) if run else (k, k + 1)
        if best is None or run[1] - run[0] >= best[1] - best[0]:
            best = run
    if best is None:
        return Span(None, 0, 0, kind, False)
    # a "thing" is a common-noun phrase: names and numbers have their own question words
    plain = all(not (toks[k][0][0].isupper() or toks[k][0][0].isdigit()) for k in range(*best))
    return span(best, typed=kind == "thing" and plain)


def relation_text(text: str) -> str:
    """`text` without its names and numbers ("The Solos Brewery employs 42 people." -> "The
    employs people."): what a sentence says, whoever it is about. Linear time."""
    toks = _tokens(text)
    c = _candidates(toks)
    drop = sorted(r for key in ("name", "number", "year", "date") for r in c[key])
    out, last = [], 0
    for i, j in drop:
        if toks[i][1] >= last:
            out.append(text[last : toks[i][1]])
            last = toks[j - 1][2]
    out.append(text[last:])
    return " ".join("".join(out).split()) or text


def question_names(question: str) -> set[str]:
    """The names a question asks about: its capitalised words after the first, and its numbers,
    normalised, a possessive dropped ("Who runs the Orrin Press's mill?" -> {"orrin", "press"})."""
    words = [w.rstrip("?!.,;:") for w in question.split()[1:]]
    words = [w[:-2] if w.endswith(("'s", "’s")) else w for w in words if w[:1].isupper() or w[:1].isdigit()]
    return {part for w in words for part in normalize_text(w).split()}
