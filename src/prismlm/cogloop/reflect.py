"""Reflection: a bounded number of retrieval passes over long-term memory with an explicit stop.

Pass 0 asks the question. Pass i ≥ 1 asks the question followed by the sentence pass i−1
retrieved, so a fact that only the first sentence's words lead to (a second hop: "who founded
X?" → "Arin founded X." → "Arin lives in Y.") can be reached. A pass's score is its confidence
when it found an answer, else 0. Stop rule, checked after every pass i ≥ 1: reflection has
CONVERGED when pass i did not beat the best score so far by more than `tol` (retrieval stopped
improving); it stops converged without spending a pass when the next query would repeat the
last one (pass i−1 found no sentence to add), and stops unconverged after `max_passes` passes.
The answer kept is the best-scoring pass's (ties: the earliest; pass 0's when none knew), so
reflecting never answers worse than asking once. (The reference instead added logit
differences to a context vector until its norm settled, a heuristic with no retrieval meaning.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..memory.inference import Answer

__all__ = ["ReflectPass", "ReflectTrace", "reflect", "DEFAULT_MAX_PASSES", "DEFAULT_TOL"]

DEFAULT_MAX_PASSES = 3
DEFAULT_TOL = 0.01


@dataclass
class ReflectPass:
    """One pass: the query asked and what came back."""

    index: int
    query: str
    value: str | None
    confidence: float
    sentence: str | None
    source: str | None


@dataclass
class ReflectTrace:
    passes: list[ReflectPass] = field(default_factory=list)
    converged: bool = False
    best: int = 0  # index of the pass whose answer is kept

    @property
    def passes_used(self) -> int:
        return len(self.passes)


def _score(a: Answer) -> float:
    return float(a.confidence) if a.value is not None else 0.0


def reflect(
    ask: Callable[[str], Answer],
    question: str,
    max_passes: int = DEFAULT_MAX_PASSES,
    tol: float = DEFAULT_TOL,
) -> tuple[Answer, ReflectTrace]:
    """Run the passes (module docstring). ask(query) -> Answer, e.g. `KnowledgeBase.ask`.
    Returns (the kept answer, the trace)."""
    if isinstance(max_passes, bool) or not isinstance(max_passes, int) or max_passes < 1:
        raise ValueError(f"max_passes must be an int >= 1, got {max_passes!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    trace, answers, query = ReflectTrace(), [], question
    for i in range(max_passes):
        a = ask(query)
        answers.append(a)
        trace.passes.append(ReflectPass(i, query, a.value, float(a.confidence), a.sentence, a.source))
        score = _score(a)
        if i > 0 and score <= _score(answers[trace.best]) + tol:
            trace.converged = True
            break
        if score > _score(answers[trace.best]):
            trace.best = i
        nxt = f"{question} {a.sentence}" if a.sentence else question
        if nxt == query:
            trace.converged = True
            break
        query = nxt
    return answers[trace.best], trace
