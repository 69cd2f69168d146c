"""Persistent knowledge-base store: facts, their bipolar vectors and provenance in SQLite.

One file, WAL journal, safe across processes (SQLite's own locking; writers take the write lock
up front with BEGIN IMMEDIATE and wait up to `timeout` seconds for it). The tables and the row
format are in `kb_schema`.

Creating is explicit and atomic: `KBStore(path, create=False)` on a missing path raises
FileNotFoundError and touches nothing; with `create=True` (`kb_schema.create_kb_file`) a failed
or concurrent creation never leaves a half-made KB.

A document is identified by its `source` and ingested in ONE transaction: a crash part-way leaves
no trace of it; re-ingesting the same source with the same SHA-256 is a no-op; with a different
SHA-256 its facts are REPLACED (the old mentions go, facts no document mentions any more are
deleted). A fact (same normalised key and value) is stored once however many documents state it;
`mentions` records each (document, span) that states it. `crc` lets a reader detect a damaged
row and name it instead of answering from it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .encoders import TextHashEncoder
from .kb_reads import MAX_REPORTED, KBReads
from .kb_schema import (
    DEFAULT_DIM,
    SCHEMA_VERSION,
    FactRecord,
    KBCorruptError,
    PassageRecord,
    check_dim,
    create_kb_file,
    fact_hash,
    pack_rows,
    passage_crc,
    row_crc,
)

__all__ = ["KBStore", "KBCorruptError", "FactRecord", "PassageRecord", "fact_hash", "DEFAULT_DIM",
           "MAX_REPORTED"]  # fmt: skip



class KBStore(KBReads):
    """SQLite-backed fact store: `KBStore(path, dim=None, encoder=None, timeout=30, create=True)`.

    A missing `path` is created (dim defaults to DEFAULT_DIM) only when `create` is true, else
    FileNotFoundError. Opening an existing store checks that it is a prismlm KB (else
    KBCorruptError, file untouched) and that `dim`/`encoder`, when given, match (else ValueError).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        dim: int | None = None,
        encoder: str | None = None,
        timeout: float = 30.0,
        create: bool = True,
    ) -> None:
        self.path = Path(path).expanduser()
        if dim is not None:
            check_dim(dim)  # before anything touches the disk
        if not self.path.exists():
            if not create:
                raise FileNotFoundError(f"no knowledge base at {self.path}")
            create_kb_file(
                self.path, dim or DEFAULT_DIM, encoder or TextHashEncoder.name_for(dim or DEFAULT_DIM)
            )
        elif not self.path.is_file():
            raise KBCorruptError(f"{self.path} is not a file, so not a knowledge base")
        elif self.path.stat().st_size == 0:
            raise KBCorruptError(f"{self.path} is an empty file, not a knowledge base; left untouched")
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        except sqlite3.DatabaseError as err:
            raise KBCorruptError(f"{self.path} is not a readable knowledge base ({err})") from err
        try:
            self._open(dim, encoder)
        except BaseException:
            self.conn.close()
            raise

    # ----------------------------------------------------------------------------- set-up
    def _open(self, dim: int | None, encoder: str | None) -> None:
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            ok = self.conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise KBCorruptError(f"{self.path}: SQLite integrity check failed: {ok}")
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
            if "meta" not in tables:
                raise KBCorruptError(f"{self.path} is an SQLite file but not a prismlm knowledge base")
            meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as err:
            raise KBCorruptError(
                f"{self.path} is not a readable knowledge base ({err}); it was left untouched"
            ) from err
        for k in ("schema_version", "dim", "encoder", "generation"):
            if k not in meta:
                raise KBCorruptError(f"{self.path}: meta table lacks {k!r}")
        if meta["schema_version"] != str(SCHEMA_VERSION):
            raise KBCorruptError(
                f"{self.path} has schema version {meta['schema_version']}; this prismlm reads "
                f"version {SCHEMA_VERSION}: ingest its documents into a new KB"
            )
        if not meta["dim"].isdigit():
            raise KBCorruptError(f"{self.path}: meta dim is {meta['dim']!r}, not a number")
        self.dim = int(meta["dim"])
        self.encoder = meta["encoder"]
        if dim is not None and dim != self.dim:
            raise ValueError(f"{self.path} was created with dim={self.dim}, not {dim}")
        if encoder is not None and encoder != self.encoder:
            raise ValueError(f"{self.path} was built with encoder {self.encoder}, not {encoder}")

    def _write(self):
        """Context manager: one IMMEDIATE transaction (commit on success, rollback on error)."""
        store = self

        class _Tx:
            def __enter__(self):
                store.conn.execute("BEGIN IMMEDIATE")
                self.changes = store.conn.total_changes
                return store.conn

            def __exit__(self, exc_type, exc, tb):
                if exc_type is None:
                    if store.conn.total_changes != self.changes:  # readers rebuild on a bump
                        store.conn.execute(
                            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
                        )
                    store.conn.execute("COMMIT")
                else:
                    store.conn.execute("ROLLBACK")
                return False

        return _Tx()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> KBStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------ writes
    def add_document(
        self,
        source: str,
        sha256: str,
        n_bytes: int,
        facts: Iterable[dict],
        on_fact: Callable[[int], None] | None = None,
        passages: Iterable[dict] = (),
    ) -> dict:
        """Store (or replace) the document `source` and its facts in one transaction.

        facts: dicts with key_text, value_text, key_norm, value_norm and either key_bits /
        value_bits (packed, d/8 bytes) or key_vec / value_vec ([d] bipolar tensors), plus
        optional chunk, line, char_start, char_end, sentence. `facts` is consumed inside the
        transaction, so it may be a lazy stream (the write lock is held while it runs; other
        writers wait up to `timeout`); it is not consumed at all when the source is stored with
        the same sha256. on_fact(i) is called after the i-th insert (progress and
        crash tests). passages: the document's sentences, dicts with text and optional context,
        chunk, line, char_start, char_end, emb (float16 bytes) and encoder — also streamed, after
        the facts; a replaced document's old passages go. Returns {"doc_id", "status":
        "new"|"replaced"|"unchanged", "n_facts", "n_new", "n_removed", "n_passages",
        "conflicts": [{key, value, other_value, other_source}]}.
        """
        now = time.time()
        with self._write() as c:
            row = c.execute(
                "SELECT id, sha256, n_facts FROM documents WHERE source = ?", (source,)
            ).fetchone()
            if row is not None and row[1] == sha256:
                n_pass = c.execute("SELECT COUNT(*) FROM passages WHERE doc_id = ?", (row[0],))
                return {"doc_id": row[0], "status": "unchanged", "n_facts": row[2], "n_new": 0,
                        "n_removed": 0, "n_passages": int(n_pass.fetchone()[0]),
                        "conflicts": []}  # fmt: skip
            if row is None:
                status, old = "new", []
                doc_id = c.execute(
                    "INSERT INTO documents (source, sha256, n_bytes, n_facts, ingested_at) "
                    "VALUES (?, ?, ?, 0, ?)",
                    (source, sha256, n_bytes, now),
                ).lastrowid
            else:
                status, doc_id = "replaced", row[0]
                old = [r[0] for r in c.execute("SELECT fact_id FROM mentions WHERE doc_id = ?", (doc_id,))]
                c.execute("DELETE FROM mentions WHERE doc_id = ?", (doc_id,))
                c.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
            n_found = n_new = 0
            for i, f in enumerate(facts):
                fid, new = self._insert_fact(c, f, now, pinned=False)
                c.execute(
                    "INSERT INTO mentions (fact_id, doc_id, chunk, line, char_start, char_end, "
                    "sentence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (fid, doc_id, f.get("chunk"), f.get("line"), f.get("char_start"),
                     f.get("char_end"), f.get("sentence")),
                )  # fmt: skip
                n_found, n_new = n_found + 1, n_new + new
                if on_fact is not None:
                    on_fact(i)
            n_passages = 0
            for p in passages:
                emb = None if p.get("emb") is None else bytes(p["emb"])
                c.execute(
                    "INSERT INTO passages (doc_id, chunk, line, char_start, char_end, text, context, "
                    "encoder, emb, crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc_id, p.get("chunk"), p.get("line"), p.get("char_start"), p.get("char_end"),
                     p["text"], p.get("context"), p.get("encoder"), emb,
                     passage_crc(p["text"], p.get("context"), emb)),
                )  # fmt: skip
                n_passages += 1
            n_removed = self._drop_orphans(c, old)
            c.execute(
                "UPDATE documents SET sha256 = ?, n_bytes = ?, n_facts = ?, ingested_at = ? WHERE id = ?",
                (sha256, n_bytes, n_found, now, doc_id),
            )
            conflicts = self._conflicts(c, doc_id)
        return {"doc_id": int(doc_id), "status": status, "n_facts": n_found, "n_new": n_new,
                "n_removed": n_removed, "n_passages": n_passages, "conflicts": conflicts}  # fmt: skip

    def _insert_fact(self, c: sqlite3.Connection, f: dict, now: float, pinned: bool) -> tuple[int, int]:
        """Insert a fact unless stored; returns (fact id, 1 if new else 0)."""
        if "key_bits" in f:
            kb, vb = bytes(f["key_bits"]), bytes(f["value_bits"])
        else:
            kb, vb = pack_rows(f["key_vec"].reshape(1, -1))[0], pack_rows(f["value_vec"].reshape(1, -1))[0]
        if len(kb) * 8 != self.dim or len(vb) * 8 != self.dim:
            raise ValueError(f"fact vectors have dimension {len(kb) * 8}, the KB has {self.dim}")
        texts = (f["key_text"], f["value_text"], f["key_norm"], f["value_norm"])
        h = fact_hash(f["key_norm"], f["value_norm"])
        cur = c.execute(
            "INSERT OR IGNORE INTO facts (key_text, value_text, key_norm, value_norm, fact_hash, "
            "pinned, key_vec, value_vec, crc, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*texts, h, int(pinned), kb, vb, row_crc(texts, kb, vb), now),
        )
        if cur.rowcount:
            return int(cur.lastrowid), 1
        fid = c.execute("SELECT id FROM facts WHERE fact_hash = ?", (h,)).fetchone()[0]
        if pinned:
            c.execute("UPDATE facts SET pinned = 1 WHERE id = ?", (fid,))
        return int(fid), 0

    @staticmethod
    def _drop_orphans(c: sqlite3.Connection, fact_ids: list[int]) -> int:
        """Delete those of `fact_ids` that no document mentions and nobody pinned."""
        removed = 0
        for s in range(0, len(fact_ids), 500):  # stay under SQLite's bound-variable limit
            part = fact_ids[s : s + 500]
            removed += c.execute(
                f"DELETE FROM facts WHERE id IN ({','.join('?' * len(part))}) AND pinned = 0 "
                "AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.fact_id = facts.id)",
                part,
            ).rowcount
        return removed

    @staticmethod
    def _conflicts(c: sqlite3.Connection, doc_id: int) -> list[dict]:
        """Facts of this document whose key another document gives a different value
        (first MAX_REPORTED)."""
        rows = c.execute(
            "SELECT DISTINCT f.key_text, f.value_text, g.value_text, d.source "
            "FROM mentions m JOIN facts f ON f.id = m.fact_id "
            "JOIN facts g ON g.key_norm = f.key_norm AND g.id <> f.id "
            "JOIN mentions mg ON mg.fact_id = g.id AND mg.doc_id <> m.doc_id "
            "JOIN documents d ON d.id = mg.doc_id "
            "WHERE m.doc_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM mentions x WHERE x.fact_id = g.id AND x.doc_id = m.doc_id) LIMIT ?",
            (doc_id, MAX_REPORTED),
        ).fetchall()
        keys = ("key", "value", "other_value", "other_source")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def add_facts(self, facts: Iterable[dict], source: str = "direct") -> int:
        """Store facts without a document (one transaction; they stay until delete_fact);
        returns how many were new."""
        now = time.time()
        with self._write() as c:
            return sum(self._insert_fact(c, f, now, pinned=True)[1] for f in facts)

    def remove_document(self, source: str) -> int:
        """Forget a document and the facts only it stated; returns how many facts went.
        Unknown source -> KeyError (nothing changes)."""
        with self._write() as c:
            row = c.execute("SELECT id FROM documents WHERE source = ?", (source,)).fetchone()
            if row is None:
                raise KeyError(f"no document with source {source!r}")
            old = [r[0] for r in c.execute("SELECT fact_id FROM mentions WHERE doc_id = ?", row)]
            c.execute("DELETE FROM documents WHERE id = ?", row)  # cascades to its mentions
            return self._drop_orphans(c, old)

    def delete_fact(self, fact_id: int) -> None:
        """Remove one fact; unknown id -> KeyError (nothing changes)."""
        with self._write() as c:
            if c.execute("DELETE FROM facts WHERE id = ?", (int(fact_id),)).rowcount == 0:
                raise KeyError(f"unknown fact id {fact_id}")
