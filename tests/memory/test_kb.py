"""Knowledge base: SQLite persistence across processes, dedup, crash safety, bad input."""

import os
import subprocess
import sys
import textwrap

import pytest

from prismlm.memory.inference import KnowledgeBase
from prismlm.memory.ingest import extract_facts, ingest_files, ingest_text, question_to_key
from prismlm.memory.kb_store import KBCorruptError, KBStore

DOC = """The capital of France is Paris. The capital of Spain is Madrid!
Dogs are mammals.

Author: Jane Doe
Einstein was a physicist. This line states nothing in particular
"""
DIM = 1024


def _run(code: str, db) -> subprocess.CompletedProcess:
    script = textwrap.dedent(code).replace("DB", repr(str(db)))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_fact_extraction_and_question_mapping():
    facts = {f["key_norm"]: f["value_text"] for f in extract_facts(DOC)}
    assert facts == {
        "capital of france": "Paris",
        "capital of spain": "Madrid",
        "dogs": "mammals",
        "author": "Jane Doe",
        "einstein": "a physicist",
    }
    assert question_to_key("What is the capital of France?") == "capital of france"


def test_kb_written_by_one_process_is_read_intact_by_another(tmp_path):
    db = tmp_path / "kb.sqlite"
    doc = tmp_path / "doc.txt"
    doc.write_text(DOC)
    writer = _run(
        f"""
        from prismlm.memory.kb_store import KBStore
        from prismlm.memory.ingest import ingest_files
        print(ingest_files(KBStore(DB, dim={DIM}), [{str(doc)!r}]))
        """,
        db,
    )
    assert writer.returncode == 0, writer.stderr
    store = KBStore(db)
    assert store.dim == DIM and store.count_facts() == 5 and store.count_documents() == 1
    kb = KnowledgeBase(store)
    ans = kb.ask("What is the capital of France?")
    assert ans.value == "Paris" and ans.matched_by == "exact key" and ans.source.endswith("doc.txt")
    # and back: this process writes, a fresh process reads
    ingest_text(store, "Water is wet.", "inline")
    reader = _run(
        """
        from prismlm.memory.kb_store import KBStore
        from prismlm.memory.inference import KnowledgeBase
        print(KnowledgeBase(KBStore(DB)).ask("what is water").value)
        """,
        db,
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "wet"


def _counts(r):
    return r.status, r.facts_found, r.facts_new


def test_ingesting_the_same_document_twice_does_not_duplicate(tmp_path):
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    assert _counts(ingest_text(store, DOC, "a")) == ("new", 5, 5)
    assert _counts(ingest_text(store, DOC, "a")) == ("unchanged", 5, 0)
    # the same facts stated by another document are stored once, mentioned twice
    assert _counts(ingest_text(store, DOC + "\nDogs are mammals.", "b")) == ("new", 6, 0)
    assert store.count_facts() == 5 and store.count_documents() == 2


def test_crash_mid_ingest_leaves_store_consistent(tmp_path):
    db = tmp_path / "kb.sqlite"
    store = KBStore(db, dim=DIM)
    ingest_text(store, "Water is wet.", "first")
    crashed = _run(
        f"""
        import os
        from prismlm.memory.kb_store import KBStore
        from prismlm.memory.ingest import ingest_text
        def die(i):
            if i == 2:
                os._exit(17)  # simulated crash: no commit, no cleanup
        ingest_text(KBStore(DB, dim={DIM}), {DOC!r}, "crashing", on_fact=die)
        """,
        db,
    )
    assert crashed.returncode == 17
    store = KBStore(db)
    assert store.count_facts() == 1 and store.count_documents() == 1
    assert KnowledgeBase(store).ask("what is water").value == "wet"
    assert _counts(ingest_text(store, DOC, "retry")) == ("new", 5, 5)  # nothing half-recorded


def test_bad_input_gives_clear_errors_and_loses_nothing(tmp_path):
    db = tmp_path / "kb.sqlite"
    store = KBStore(db, dim=DIM)
    ingest_text(store, DOC, "doc")
    kb = KnowledgeBase(store)
    with pytest.raises(ValueError, match="empty"):
        kb.ask("  ?! ")
    with pytest.raises(KeyError, match="unknown fact id"):
        store.get_fact(999)
    with pytest.raises(KeyError, match="unknown fact id"):
        store.delete_fact(999)
    with pytest.raises(ValueError, match="created with dim=1024"):
        KBStore(db, dim=2048)
    with pytest.raises(FileNotFoundError, match="no such file"):
        ingest_files(store, [tmp_path / "missing.txt"])
    assert store.count_facts() == 5 and kb.ask("capital of spain").value == "Madrid"


def test_corrupted_store_is_reported_not_used(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(KBCorruptError, match="not a readable knowledge base"):
        KBStore(junk)
    assert junk.read_bytes().startswith(b"this is not")  # left untouched
    db = tmp_path / "kb.sqlite"
    store = KBStore(db, dim=DIM)
    ingest_text(store, DOC, "doc")
    store.conn.execute("UPDATE facts SET value_text = 'Lyon' WHERE key_norm = 'capital of france'")
    with pytest.raises(KBCorruptError, match="failed its checksum"):
        KnowledgeBase(store)
    assert os.path.exists(db) and store.count_facts() == 5


def test_readers_rebuild_only_after_a_real_change(tmp_path):
    store = KBStore(tmp_path / "kb.sqlite", dim=DIM)
    ingest_text(store, DOC, "doc")
    gen = store.generation()
    ingest_text(store, DOC, "doc")  # no-op
    assert store.generation() == gen
    ingest_text(store, "Water is wet.", "doc2")
    assert store.generation() == gen + 1


def test_concurrent_writers_creating_a_fresh_kb_lose_nothing(tmp_path):
    db = tmp_path / "fresh" / "kb.sqlite"
    script = textwrap.dedent(
        f"""
        import sys
        from prismlm.memory.kb_store import KBStore
        from prismlm.memory.ingest import ingest_text
        w = int(sys.argv[1])
        doc = "".join(f"key {{w}} {{i}}: value {{i}}\\n" for i in range(50))
        ingest_text(KBStore({str(db)!r}, dim={DIM}), doc, f"writer-{{w}}")
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(w)]) for w in range(3)]
    assert [p.wait(timeout=180) for p in procs] == [0] * 3
    store = KBStore(db, create=False)
    assert store.count_documents() == 3 and store.count_facts() == 150
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [p.name for p in db.parent.iterdir() if p.name.endswith(".creating")] == []
