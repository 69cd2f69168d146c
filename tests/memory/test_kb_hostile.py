"""The knowledge base under hostile or ordinary non-English text (issue 12, items 9-13)."""

import subprocess
import sys
import textwrap
import time

import pytest
from typer.testing import CliRunner

from prismlm.cli import app
from prismlm.memory.encoders import normalize_text
from prismlm.memory.inference import KnowledgeBase
from prismlm.memory.ingest import (
    MAX_LINE_CHARS,
    SKIP_REASONS,
    extract_facts,
    ingest_file,
    ingest_text,
    question_to_key,
)
from prismlm.memory.kb_store import KBCorruptError, KBStore

DIM = 512
ADVERSARIAL_SECONDS = 2.0  # issue 12 item 9: 100 KB of adversarial text in under 2 s


def _adversarial(n_bytes: int = 100_000) -> str:
    """Whitespace and punctuation runs that made the old regexes backtrack (each line is below
    MAX_LINE_CHARS, so all of it is really parsed)."""
    lines = [
        " " * 4000 + "indented text",  # the old _COPULA: quadratic in leading spaces
        "x" + " " * 3000 + "is" + " " * 3000 + "y.",
        "k" + " " * 3000 + ":" + " " * 3000 + "v",  # the old _COLON
        "is " * 2000,
        "a: " * 2000,
        "." * 4000 + "!?;" * 1000,
        "\t \t" * 1500 + "The capital of France is Paris.",
        "what is x" + " " * 5000 + "y?",  # the old _QUESTION: cubic in inner spaces
        "stands for " * 500,
    ]
    out, size = [], 0
    while size < n_bytes:
        for line in lines:
            out.append(line)
            size += len(line) + 1
    return "\n".join(out) + "\n"


def test_adversarial_whitespace_and_punctuation_are_processed_in_linear_time(tmp_path):
    text = _adversarial()
    assert len(text) >= 100_000
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    t0 = time.perf_counter()
    result = ingest_text(store, text, "hostile.txt")
    key = question_to_key("what is x" + " " * 5000 + "y?")
    answer = KnowledgeBase(store).ask("What is the capital of France?")
    elapsed = time.perf_counter() - t0
    assert elapsed < ADVERSARIAL_SECONDS, f"{elapsed:.2f} s for 100 KB"
    assert key == "x y" and answer.value == "Paris"
    assert result.facts_found > 0 and set(result.skipped) <= set(SKIP_REASONS)


def test_a_line_longer_than_the_bound_is_skipped_and_reported_offsets_stay_right(tmp_path):
    text = "A" * (MAX_LINE_CHARS + 10) + "\nWater is wet.\n"
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    result = ingest_text(store, text, "long.txt")
    assert result.skipped == {"line_too_long": 1} and result.skipped_examples[0]["line"] == 1
    (fact,) = list(extract_facts(text))
    assert fact["line"] == 2 and text[fact["char_start"] : fact["char_end"]] == "Water is wet."
    assert store.get_fact(1).char_start == text.index("Water")


UNICODE_DOC = (
    "Город: Москва\n東京 is 日本の首都.\nThe capital of Россия is Москва.\n"
    "Zürich is a city.\nZrich is a typo.\nＰｙｔｈｏｎ is a language.\nStraße is a street.\n"
)


def test_non_latin_and_accented_facts_are_all_stored_and_asked(tmp_path):
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    result = ingest_text(store, UNICODE_DOC, "unicode.txt")
    assert (result.facts_found, result.facts_new, result.skipped) == (7, 7, {})
    kb = KnowledgeBase(store)
    assert kb.ask("Город").value == "Москва"
    assert kb.ask("What is the capital of РОССИЯ?").value == "Москва"
    assert kb.ask("東京").value == "日本の首都"
    assert kb.ask("What is ZÜRICH?").value == "a city"  # casefold
    assert kb.ask("what is zrich").value == "a typo"  # "ü" is kept, so these stay distinct
    assert kb.ask("python").value == "a language"  # NFKC folds full-width letters
    assert kb.ask("STRASSE").value == "a street"  # casefold: ß -> ss
    assert normalize_text(normalize_text(UNICODE_DOC)) == normalize_text(UNICODE_DOC)


def test_undecodable_bytes_and_binary_lines_are_reported_not_replaced(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9 is good.\nTea is hot.\n\x00\x01ELF is binary\x00\nMilk is white.\n")
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    result = ingest_file(store, path)
    assert result.skipped == {"invalid_utf8": 1, "control_characters": 1}
    assert [(x["reason"], x["line"]) for x in result.skipped_examples] == [
        ("invalid_utf8", 1),
        ("control_characters", 3),
    ]
    assert result.facts_found == 2 and not store.has_key("caf") and not store.has_key("café")
    assert KnowledgeBase(store).ask("what is milk").value == "white"


def test_fact_shaped_sentences_that_cannot_be_stored_are_counted_with_a_reason(tmp_path):
    text = (
        "The one thing that every single person in this truly very long sentence wants is peace.\n"
        "Noise is " + "very " * 40 + "loud.\n"
        "#### is ~~~~\n"
    )
    result = ingest_text(KBStore(tmp_path / "kb.sqlite", dim=DIM), text, "t")
    assert result.facts_found == 0
    assert result.skipped == {"key_too_long": 1, "value_too_long": 1, "no_letters_or_digits": 1}


def test_an_edited_document_replaces_its_facts(tmp_path):
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    ingest_text(store, "The capital of Atlantis is Paris.", "u.txt")
    result = ingest_text(store, "The capital of Atlantis is Lyon.", "u.txt")
    assert (result.status, result.facts_new, result.facts_removed) == ("replaced", 1, 1)
    ans = KnowledgeBase(store).ask("What is the capital of Atlantis?")
    assert ans.value == "Lyon" and ans.conflicts == []
    assert store.count_facts() == 1 and store.count_documents() == 1


def test_conflicting_facts_from_different_documents_are_reported(tmp_path):
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    ingest_text(store, "The capital of Atlantis is Paris.", "old-atlas.txt")
    result = ingest_text(store, "The capital of Atlantis is Lyon.", "u.txt")
    assert result.conflicts == [
        {
            "key": "capital of Atlantis",
            "value": "Lyon",
            "other_value": "Paris",
            "other_source": "old-atlas.txt",
        }
    ]
    ans = KnowledgeBase(store).ask("What is the capital of Atlantis?")
    other = {"Paris": "old-atlas.txt", "Lyon": "u.txt"}
    assert [(c["value"], c["source"]) for c in ans.conflicts] == [
        (v, s) for v, s in other.items() if v != ans.value
    ]


def test_a_fact_another_document_still_states_survives_an_edit(tmp_path):
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    ingest_text(store, "Dogs are mammals. Cats are pets.", "a")
    ingest_text(store, "Dogs are mammals.", "b")
    assert ingest_text(store, "Cats are pets.", "a").facts_removed == 0
    assert KnowledgeBase(store).ask("what are dogs").source == "b"
    assert store.remove_document("b") == 1 and store.count_facts() == 1
    with pytest.raises(KeyError, match="no document"):
        store.remove_document("b")


def test_a_crash_while_replacing_a_document_keeps_the_old_version(tmp_path):
    db = tmp_path / "kb.sqlite"
    ingest_text(KBStore(db, dim=DIM), "The capital of Atlantis is Paris.", "u.txt")
    script = f"""
        import os
        from prismlm.memory.kb_store import KBStore
        from prismlm.memory.ingest import ingest_text
        def die(i):
            os._exit(17)  # after the old mentions were deleted, before the commit
        doc = "The capital of Atlantis is Lyon. Sea is blue."
        ingest_text(KBStore({str(db)!r}), doc, "u.txt", on_fact=die)
    """
    crashed = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], timeout=120)
    assert crashed.returncode == 17
    store = KBStore(db, create=False)
    assert KnowledgeBase(store).ask("What is the capital of Atlantis?").value == "Paris"
    assert store.count_facts() == 1


# ------------------------------------------------------------------ creating and opening
def test_opening_a_missing_kb_without_create_changes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no knowledge base"):
        KBStore(tmp_path / "typo" / "dir" / "kb.sqlite", create=False)
    assert not (tmp_path / "typo").exists()


def test_an_invalid_dim_leaves_nothing_behind_and_a_retry_works(tmp_path):
    db = tmp_path / "q.sqlite"
    for bad in (12, 0, True, 16.0):
        with pytest.raises(ValueError, match="multiple of 8"):
            KBStore(db, dim=bad)
    assert list(tmp_path.iterdir()) == []
    assert KBStore(db, dim=16).dim == 16
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("q.sqlite")] == []


def test_an_empty_or_foreign_file_is_refused_and_left_untouched(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(KBCorruptError, match="empty file"):
        KBStore(empty)
    assert empty.stat().st_size == 0


# ----------------------------------------------------------------------------- the CLI
def _cli(*args):
    return CliRunner().invoke(app, ["kb", *map(str, args)])


def test_cli_mistyped_db_is_an_error_and_creates_nothing(tmp_path):
    typo = tmp_path / "typo" / "dir" / "kb.sqlite"
    doc = tmp_path / "doc.txt"
    doc.write_text("Water is wet.\n")
    for args in (
        ("ask", "what is water", "--db", typo),
        ("stats", "--db", typo),
        ("ingest", doc, "--db", typo),
    ):
        r = _cli(*args)
        assert r.exit_code == 2 and "no knowledge base" in r.output and "kb init" in r.output
    assert not (tmp_path / "typo").exists()
    assert _cli("ingest", doc, "--db", typo, "--create").exit_code == 0
    assert _cli("ask", "what is water", "--db", typo).output.startswith("wet")


def test_cli_invalid_dim_then_retry(tmp_path):
    db = tmp_path / "q.sqlite"
    doc = tmp_path / "a.txt"
    doc.write_text("Water is wet.\n")
    r = _cli("ingest", doc, "--db", db, "--dim", 12)
    assert r.exit_code == 2 and "multiple of 8" in r.output and not db.exists()
    assert _cli("ingest", doc, "--db", db, "--dim", 16).exit_code == 0
    assert _cli("init", "--db", db).exit_code == 2  # never overwrites


def test_cli_reports_skips_conflicts_and_removes_documents(tmp_path):
    db = tmp_path / "kb.sqlite"
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"The capital of Atlantis is Paris.\nbad \xff line is here\n")
    b.write_text("The capital of Atlantis is Lyon.\n")
    assert _cli("init", "--db", db, "--dim", DIM).exit_code == 0
    r = _cli("ingest", a, b, "--db", db)
    assert r.exit_code == 0
    assert "skipped 1: " + SKIP_REASONS["invalid_utf8"] in r.output
    assert "'Lyon' here but 'Paris'" in r.output
    assert "also stored" in _cli("ask", "What is the capital of Atlantis?", "--db", db).output
    r = _cli("remove", a, "--db", db)
    assert r.exit_code == 0 and "1 facts forgotten" in r.output
    assert _cli("ask", "What is the capital of Atlantis?", "--db", db).output.startswith("Lyon")


def test_cli_stats_names_a_damaged_row_instead_of_crashing(tmp_path):
    db = tmp_path / "kb.sqlite"
    store = KBStore(db, dim=DIM)
    ingest_text(store, "The capital of France is Paris. Dogs are mammals.", "doc")
    store.conn.execute("UPDATE facts SET value_text = 'Lyon' WHERE key_norm = 'capital of france'")
    store.close()
    r = _cli("stats", "--db", db)
    assert r.exit_code == 2 and "failed their checksum: ids [1]" in r.output
    assert '"damaged_facts": [\n    1\n  ]' in r.output
    assert _cli("ask", "dogs", "--db", db).exit_code == 2
