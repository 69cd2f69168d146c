"""Working memory and long-term memory: capacity, importance, eviction, persistence, forget."""

import json

import pytest

from prismlm.cogloop import CogLoop, Episode, LongTermMemory, LoopConfig, WorkingMemory, importance_of
from prismlm.cogloop.working_memory import FACT_IMPORTANCE, QUESTION_IMPORTANCE, STATEMENT_IMPORTANCE

FACT = "The capital of Zorbia is Quex."
QUESTION = "What is the capital of Zorbia?"


def test_working_memory_drops_the_least_important_then_the_oldest():
    wm = WorkingMemory(capacity=2)
    a, b = Episode("a one", 0.5, timestamp=1), Episode("b two", 0.5, timestamp=2)
    c = Episode("c", 0.9, timestamp=3)
    assert wm.add(a) is None and wm.add(b) is None
    assert wm.add(c) is a  # equal importance: the older goes
    assert wm.add(Episode("d", 0.1, timestamp=4)).text == "d"  # less important than all held
    assert [e.text for e in wm.episodes] == ["b two", "c"]


def test_importance_follows_the_shape_of_the_utterance():
    assert importance_of(QUESTION) == QUESTION_IMPORTANCE
    assert importance_of(FACT) == FACT_IMPORTANCE
    assert importance_of("it rained all day") == STATEMENT_IMPORTANCE
    with pytest.raises(ValueError, match="importance"):
        Episode("x", 1.5)
    with pytest.raises(ValueError, match="capacity"):
        WorkingMemory(0)


def test_remembered_fact_is_answered_by_a_new_instance(ltm_path):
    with LongTermMemory(ltm_path, encoder="lexical") as m:
        CogLoop(m).turn("remember: " + FACT)
    with LongTermMemory(ltm_path, create=False, encoder="lexical") as m:
        turn = CogLoop(m).turn(QUESTION)
    assert turn.source == "memory" and turn.answer.value == "Quex"


def test_threshold_decides_what_consolidates_and_remember_bypasses_it(ltm):
    loop = CogLoop(ltm, config=LoopConfig(consolidate_every=3, importance_threshold=0.5))
    loop.turn("it rained all day")  # STATEMENT_IMPORTANCE < 0.5
    loop.turn(FACT)  # FACT_IMPORTANCE >= 0.5
    assert len(ltm) == 0  # nothing before the n-th episode
    turn = loop.turn("Who founded the Velmora Guild?")  # third episode: consolidation runs
    assert [e.text for e in turn.consolidated] == [FACT]
    assert [e.text for e in ltm.entries()] == [FACT]
    assert [e.text for e in loop.working.episodes] == ["it rained all day", "Who founded the Velmora Guild?"]
    strict = CogLoop(ltm, config=LoopConfig(consolidate_every=1, importance_threshold=1.0))
    assert strict.turn("Arin Tosk founded the Velmora Guild.").consolidated == []
    assert strict.turn("remember: it rained all day").source == "remembered"
    assert ltm.entries()[-1].text == "it rained all day" and ltm.entries()[-1].kind == "explicit"


def test_the_bound_evicts_lowest_importance_then_oldest(ltm_path):
    with LongTermMemory(ltm_path, max_entries=3, encoder="lexical") as m:
        low = m.consolidate([Episode("Low one is here.", 0.2)])
        m.consolidate([Episode("High one is here.", 0.9)])
        old = m.consolidate([Episode("Mid old is here.", 0.6)])
        m.consolidate([Episode("Mid new is here.", 0.6)])  # evicts `low`
        assert len(m) == 3 and low.id not in {e.id for e in m.entries()}
        m.consolidate([Episode("Mid newest is here.", 0.6)])  # equal retention would favour the new
        assert old.id not in {e.id for e in m.entries()} and len(m) == 3


def test_age_discounts_importance(ltm_path):
    with LongTermMemory(ltm_path, max_entries=2, half_life_s=10.0, encoder="lexical") as m:
        # the stale entry is made 100 s (ten half-lives) before the fresh one
        stale = m.consolidate([Episode("Stale fact is old.", 0.9)], now=1000.0)
        fresh = m.consolidate([Episode("Fresh fact is new.", 0.5)], now=1100.0)
        now = 1100.0  # retention: 0.9 · 2^-10 for the stale one, 0.5 for the fresh one
        assert stale.retention(now, 10.0) == 0.9 * 2.0**-10 < fresh.retention(now, 10.0) == 0.5
        m.max_entries = 1
        assert [e.id for e in m.evict(now=now)] == [stale.id]
        assert [e.id for e in m.entries()] == [fresh.id]


def test_forget_and_export(ltm, tmp_path):
    a = ltm.consolidate([Episode(FACT, 1.0)], kind="explicit")
    b = ltm.consolidate([Episode("Arin Tosk founded the Velmora Guild.", 0.7)])
    assert ltm.forget(a.id).text == FACT
    with pytest.raises(KeyError, match="no remembered entry"):
        ltm.forget(a.id)
    assert CogLoop(ltm).turn(QUESTION).source == "none"  # forgotten means unanswerable
    assert ltm.export(tmp_path / "e.json") == 1
    data = json.loads((tmp_path / "e.json").read_text())
    assert [e["id"] for e in data["entries"]] == [b.id]
