"""Reflection: bounded passes, the convergence rule, and the kept answer."""

import pytest

from prismlm.cogloop import CogLoop, reflect
from prismlm.cogloop.reflect import DEFAULT_TOL
from prismlm.memory.inference import Answer


def _answer(value, conf, sentence):
    return Answer("q", "q", value, None, 0.0, 0.0, "test", sentence=sentence, confidence=conf)


def test_budget_bounds_passes_when_answers_keep_improving():
    asked = []

    def ask(q):
        asked.append(q)
        return _answer(f"v{len(asked)}", 0.1 * len(asked), f"sentence {len(asked)}.")

    best, trace = reflect(ask, "Who?", max_passes=4)
    assert trace.passes_used == len(asked) == 4 and not trace.converged
    assert best.value == "v4" and trace.best == 3
    assert asked[1] == "Who? sentence 1."  # pass i adds pass i-1's sentence


def test_stops_early_once_a_pass_no_longer_improves():
    confs, n = iter([0.5, 0.8, 0.8 + DEFAULT_TOL / 2, 0.99]), iter(range(4))
    best, trace = reflect(lambda q: _answer("x", next(confs), f"s{next(n)}."), "Who?", max_passes=4)
    assert trace.converged and trace.passes_used == 3
    assert best.confidence == pytest.approx(0.8) and trace.best == 1


def test_a_worse_later_pass_never_replaces_the_first_answer():
    answers = iter([_answer("Quex", 0.9, "The capital is Quex."), _answer(None, 0.0, None)])
    best, trace = reflect(lambda q: next(answers), "What?", max_passes=5)
    assert best.value == "Quex" and trace.converged and trace.passes_used == 2


def test_a_query_that_would_repeat_is_not_asked_again():
    _, trace = reflect(lambda q: _answer("x", 0.5 + 0.1 * len(q), "same."), "Who?", max_passes=5)
    assert [p.query for p in trace.passes] == ["Who?", "Who? same."] and trace.converged


def test_nothing_retrieved_stops_after_one_pass():
    _, trace = reflect(lambda q: _answer(None, 0.0, None), "What?", max_passes=5)
    assert trace.passes_used == 1 and trace.converged
    with pytest.raises(ValueError, match="max_passes"):
        reflect(lambda q: _answer(None, 0.0, None), "What?", max_passes=0)


def test_a_turn_carries_its_trace(ltm):
    loop = CogLoop(ltm)
    loop.turn("remember: The capital of Zorbia is Quex.")
    turn = loop.turn("What is the capital of Zorbia?")
    assert 1 <= turn.trace.passes_used <= loop.config.max_passes
    assert turn.trace.passes[0].query == "What is the capital of Zorbia?"
    assert turn.trace.passes[turn.trace.best].value == turn.answer.value == "Quex"
