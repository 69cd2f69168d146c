"""A seeded corpus for the knowledge-base benchmark: prose about invented entities, and questions
worded unlike it.

    corpus = make_corpus(n_facts=1000, seed=0)
    corpus.documents   # [(name, text)] — markdown and plain prose, facts mixed with filler
    corpus.questions   # [Question(text, answer, relation, document)], one per fact
    corpus.absent      # questions about entities no document mentions (answer: "I don't know")

Entities (towns, organisations, people, rivers) get names built from random syllables, so no
model has seen them. Each relation has DOCUMENT templates and QUESTION templates that share no
relation wording (founded/established vs started/set up, employs vs workforce, born vs hometown,
...), questions reorder clauses ("In which town ...", "... is based where"), and a fact may sit
in a compound sentence or be stated through a pronoun ("It employs 340 people."). The templates
are this module's own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Question", "Corpus", "make_corpus", "RELATIONS"]

_ONSETS = "b br c d dr f g gr h k kr l m n p pr r s st t th tr v w z".split()
_VOWELS = "a e i o u ae ai ei ou y".split()
_CODAS = "l n r s th m nd rk ll x".split()
_TOWN_ENDS = "mere holt wick ford stead vale by thorpe haven ridge".split()
_ORG_KINDS = ("Guild", "Society", "Institute", "Company", "Observatory", "Academy", "Foundry",
              "Brewery", "Press", "Ensemble", "Workshop", "Cooperative")  # fmt: skip
_JOBS = ("glassblower", "cartographer", "beekeeper", "clockmaker", "surveyor", "bookbinder",
         "stonemason", "botanist", "lighthouse keeper", "ferry pilot", "violin maker", "archivist",
         "tanner", "weaver", "astronomer", "harbour master")  # fmt: skip
_GOODS = ("copper lanterns", "woollen blankets", "brass telescopes", "printed maps", "rope ladders",
          "glazed tiles", "pocket watches", "herbal tinctures", "sailcloth", "cast iron stoves",
          "paper kites", "oak barrels", "silver buttons", "clay pipes")  # fmt: skip
_FILLER = (
    "Visitors often remark on the narrow streets and the smell of woodsmoke.",
    "Local records from that period are incomplete.",
    "The winters in the region are long and grey.",
    "Market day draws traders from the surrounding hills.",
    "Several old bridges cross the valley nearby.",
    "Much of the surrounding land is given over to orchards.",
    "A small museum keeps letters and ledgers from those years.",
    "The road to the coast was paved only recently.",
)

# relation -> (answer kind, subject type, document templates, question templates)
RELATIONS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "founder": ("person", "org",
        ("The {s} was founded by {a}.", "{a} established the {s}.", "The {s} owes its existence to {a}."),
        ("Who started the {s}?", "Who set up the {s}?", "The {s} was begun by whom?")),
    "founded": ("date", "org",
        ("The {s} opened its doors in {a}.", "The history of the {s} goes back to {a}."),
        ("When did the {s} get started?", "In what year was the {s} launched?")),
    "based": ("place", "org",
        ("The {s} has its headquarters in {a}.", "The offices of the {s} stand in {a}."),
        ("Where is the {s} based?", "In which town is the {s} located?")),
    "staff": ("number", "org",
        ("The {s} employs {a} people.", "A staff of {a} works for the {s}."),
        ("How many workers does the {s} have?", "How large is the workforce of the {s}?",
         "What is the headcount at the {s}?")),
    "makes": ("thing", "org",
        ("The {s} is known for producing {a}.", "Its workshops turn out {a} for the {s}."),
        ("What does the {s} manufacture?", "Which goods does the {s} make?")),
    "leader": ("person", "org",
        ("The {s} is headed by {a}.", "These days {a} leads the {s}."),
        ("Who is in charge of the {s}?", "Who runs the {s} now?")),
    "hometown": ("place", "person",
        ("{s} was born in {a}.", "{s} grew up in {a}."),
        ("Where does {s} come from?", "In which town did {s} spend childhood?")),
    "birth": ("date", "person",
        ("{s} came into the world in {a}.", "Parish records place the birth of {s} in {a}."),
        ("When was {s} born?", "In what year did {s} arrive?")),
    "job": ("thing", "person",
        ("{s} works as a {a}.", "By trade, {s} is a {a}."),
        ("What does {s} do for a living?", "What is the profession of {s}?")),
    "mentor": ("person", "person",
        ("{s} studied under {a}.", "{a} trained {s} for many years."),
        ("Who taught {s}?", "Whose apprentice was {s}?")),
    "population": ("number", "town",
        ("{s} is home to {a} residents.", "Some {a} people live in {s}."),
        ("How many inhabitants does {s} have?", "What is the population of {s}?")),
    "river": ("thing", "town",
        ("The {a} River flows through {s}.", "{s} lies on the banks of the {a} River."),
        ("Which river runs past {s}?", "What river crosses {s}?")),
}
_PER_ENTITY = {"org": 6, "person": 4, "town": 2}


@dataclass
class Question:
    text: str
    answer: str | None  # None: the knowledge base should say "I don't know"
    relation: str
    document: str | None
    subject: str = ""


@dataclass
class Corpus:
    documents: list[tuple[str, str]] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    absent: list[Question] = field(default_factory=list)
    n_facts: int = 0


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set()

    def _word(self, syllables: int) -> str:
        r = self.rng
        w = "".join(r.choice(_ONSETS) + r.choice(_VOWELS) for _ in range(syllables)) + r.choice(_CODAS)
        return w.capitalize()

    def fresh(self, make) -> str:
        while (name := make()) in self.used:
            pass
        self.used.add(name)
        return name

    def person(self) -> str:
        return self.fresh(lambda: f"{self._word(1)} {self._word(self.rng.choice((1, 2)))}")

    def town(self) -> str:
        return self.fresh(lambda: self._word(1) + self.rng.choice(_TOWN_ENDS))

    def org(self) -> str:
        return self.fresh(lambda: f"{self._word(2)} {self.rng.choice(_ORG_KINDS)}")

    def river(self) -> str:
        return self.fresh(lambda: self._word(1))


def _answer(rel: str, rng: random.Random, names: _Names, towns: list[str], people: list[str]) -> str:
    if rel in ("founder", "leader", "mentor"):
        return rng.choice(people) if rng.random() < 0.5 else names.person()
    if rel in ("founded", "birth"):
        return str(rng.randint(1700, 1990))
    if rel in ("based", "hometown"):
        return rng.choice(towns)
    if rel == "staff":
        return str(rng.randint(12, 900))
    if rel == "population":
        return f"{rng.randint(1, 90)},{rng.randint(0, 999):03d}"
    if rel == "makes":
        return rng.choice(_GOODS)
    if rel == "job":
        return rng.choice(_JOBS)
    return names.river()


def make_corpus(n_facts: int = 1000, seed: int = 0, per_document: int = 50, n_absent: int = 50) -> Corpus:
    """Documents holding ≥ n_facts facts (≈ per_document each), one question per fact, and
    n_absent questions about entities that appear nowhere."""
    if n_facts < 1 or per_document < 12:
        raise ValueError(f"n_facts must be >= 1 and per_document >= 12, got {n_facts}, {per_document}")
    rng = random.Random(seed)
    names = _Names(rng)
    corpus = Corpus()
    doc_i = 0
    while corpus.n_facts < n_facts:
        towns = [names.town() for _ in range(2)]
        people = [names.person() for _ in range(max(1, per_document // 14))]
        orgs = [names.org() for _ in range(max(1, per_document // 10))]
        name = f"region-{doc_i:03d}" + (".md" if doc_i % 2 else ".txt")
        paras = []
        for kind, subjects in (("town", towns), ("org", orgs), ("person", people)):
            for s in subjects:
                sentences = []
                rels = [r for r, spec in RELATIONS.items() if spec[1] == kind][: _PER_ENTITY[kind]]
                rng.shuffle(rels)
                for j, rel in enumerate(rels):
                    a = _answer(rel, rng, names, towns, [p for p in people if p != s])
                    text = rng.choice(RELATIONS[rel][2]).format(s=s, a=a)
                    if j and text.startswith(f"The {s}") and rng.random() < 0.3:
                        text = "It" + text[len(f"The {s}") :]  # stated through a pronoun
                    sentences.append(text)
                    q = rng.choice(RELATIONS[rel][3]).format(s=s)
                    corpus.questions.append(Question(q, a, rel, name, s))
                    corpus.n_facts += 1
                    if rng.random() < 0.3:
                        sentences.append(rng.choice(_FILLER))
                heading = f"## {s}\n\n" if name.endswith(".md") else ""
                paras.append(heading + " ".join(sentences))
        corpus.documents.append((name, "\n\n".join(paras) + "\n"))
        doc_i += 1
    for _ in range(n_absent):
        rel = rng.choice(list(RELATIONS))
        kind = RELATIONS[rel][1]
        s = {"org": names.org, "person": names.person, "town": names.town}[kind]()
        corpus.absent.append(Question(rng.choice(RELATIONS[rel][3]).format(s=s), None, rel, None, s))
    return corpus
