"""Persistent knowledge-base store: facts, their bipolar vectors and provenance in SQLite.

One file, WAL journal, safe across processes (SQLite's own locking; writers take the write lock
up front with BEGIN IMMEDIATE and wait up to `timeout` seconds for it). A document is ingested
in ONE transaction: a crash part-way leaves no trace of it, and re-ingesting the same text (same
SHA-256) is a no-op; a fact already stored (same normalised key and value) is never duplicated.

Tables
    meta(key, value)            schema version, dim, encoder, write generation
    documents(id, sha256 UNIQUE, source, n_chars, n_facts, ingested_at)
    facts(id, doc_id, key_text, value_text, key_norm, fact_hash UNIQUE, chunk, char_start,
          char_end, sentence, key_vec, value_vec, crc, created_at)
Vectors are bit-packed ({-1, +1}^d -> d/8 bytes); `crc` (CRC-32 over texts and vectors) lets a
reader detect a damaged row and name it instead of answering from it.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["KBStore", "KBCorruptError", "FactRecord", "fact_hash"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL, source TEXT NOT NULL,
    n_chars INTEGER NOT NULL, n_facts INTEGER NOT NULL, ingested_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY, doc_id INTEGER REFERENCES documents(id) ON DELETE CASCADE,
    key_text TEXT NOT NULL, value_text TEXT NOT NULL, key_norm TEXT NOT NULL,
    fact_hash TEXT UNIQUE NOT NULL, chunk INTEGER, char_start INTEGER, char_end INTEGER,
    sentence TEXT, key_vec BLOB NOT NULL, value_vec BLOB NOT NULL, crc INTEGER NOT NULL,
    created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS facts_key_norm ON facts(key_norm);
"""


class KBCorruptError(RuntimeError):
    """The store file is not a readable prismlm knowledge base (or a row failed its checksum)."""


@dataclass
class FactRecord:
    """One stored fact with its provenance (vectors are not loaded here)."""

    id: int
    key_text: str
    value_text: str
    key_norm: str
    source: str | None
    chunk: int | None
    char_start: int | None
    char_end: int | None
    sentence: str | None


def fact_hash(key_norm: str, value_norm: str) -> str:
    """Identity of a fact: SHA-256 of its normalised key and value."""
    return hashlib.sha256(f"{key_norm}\x1f{value_norm}".encode()).hexdigest()


def _crc(key_text: str, value_text: str, key_vec: bytes, value_vec: bytes) -> int:
    c = zlib.crc32(key_text.encode())
    c = zlib.crc32(value_text.encode(), c)
    c = zlib.crc32(key_vec, c)
    return zlib.crc32(value_vec, c)


def _pack_rows(x: torch.Tensor) -> list[bytes]:
    bits = np.packbits((x.numpy() >= 0).astype(np.uint8), axis=1)
    return [row.tobytes() for row in bits]


def _unpack_rows(blobs: list[bytes], dim: int) -> torch.Tensor:
    if not blobs:
        return torch.empty(0, dim, dtype=torch.int8)
    packed = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), dim // 8)
    bits = np.unpackbits(packed, axis=1).astype(np.int8)
    return torch.from_numpy(bits * 2 - 1)


class KBStore:
    """SQLite-backed fact store. `KBStore(path, dim=8192, encoder="text-hash-v1(...)")`.

    Opening an existing store checks that it is a prismlm KB (else KBCorruptError) and that
    `dim`/`encoder`, when given, match what it was created with (else ValueError).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        dim: int | None = None,
        encoder: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.path = Path(path).expanduser()
        existed = self.path.exists() and self.path.stat().st_size > 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            if existed:
                ok = self.conn.execute("PRAGMA quick_check").fetchone()[0]
                if ok != "ok":
                    raise KBCorruptError(f"{self.path}: SQLite integrity check failed: {ok}")
        except sqlite3.DatabaseError as err:
            raise KBCorruptError(
                f"{self.path} is not a readable knowledge base ({err}); it was left untouched"
            ) from err
        self._init_meta(existed, dim, encoder)

    # ----------------------------------------------------------------------------- set-up
    def _init_meta(self, existed: bool, dim: int | None, encoder: str | None) -> None:
        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as err:
            raise KBCorruptError(f"{self.path}: cannot read the schema ({err})") from err
        if existed and "meta" not in tables:
            raise KBCorruptError(f"{self.path} is an SQLite file but not a prismlm knowledge base")
        if "meta" not in tables:
            if dim is None:
                dim = 8192
            if dim < 8 or dim % 8:
                raise ValueError(f"dim must be a positive multiple of 8, got {dim}")
            with self._write():
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self.conn.execute(stmt)
                meta = {
                    "schema_version": str(SCHEMA_VERSION),
                    "dim": str(dim),
                    "encoder": encoder or f"text-hash-v1(dim={dim},seed=0)",
                    "generation": "0",
                }
                self.conn.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", meta.items())
        meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        for k in ("schema_version", "dim", "encoder", "generation"):
            if k not in meta:
                raise KBCorruptError(f"{self.path}: meta table lacks {k!r}")
        if int(meta["schema_version"]) != SCHEMA_VERSION:
            raise KBCorruptError(
                f"{self.path}: schema version {meta['schema_version']}, expected {SCHEMA_VERSION}"
            )
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
        text: str,
        facts: Iterable[dict],
        on_fact: Callable[[int], None] | None = None,
    ) -> tuple[int, int]:
        """Store a document and its facts in one transaction; returns (doc_id, n_new_facts).

        facts: dicts with key_text, value_text, key_norm, value_norm, key_vec [d], value_vec [d]
        (bipolar tensors) and optional chunk, char_start, char_end, sentence. A document whose
        SHA-256 is already stored is skipped (n_new_facts = 0). on_fact(i) is called after the
        i-th insert (a hook for progress and for crash tests).
        """
        sha = hashlib.sha256(text.encode()).hexdigest()
        now = time.time()
        with self._write() as c:
            row = c.execute("SELECT id FROM documents WHERE sha256 = ?", (sha,)).fetchone()
            if row is not None:
                return int(row[0]), 0
            doc_id = c.execute(
                "INSERT INTO documents (sha256, source, n_chars, n_facts, ingested_at) "
                "VALUES (?, ?, ?, 0, ?)",
                (sha, source, len(text), now),
            ).lastrowid
            n_new = 0
            for i, f in enumerate(facts):
                n_new += self._insert_fact(c, doc_id, f, now)
                if on_fact is not None:
                    on_fact(i)
            c.execute("UPDATE documents SET n_facts = ? WHERE id = ?", (n_new, doc_id))
        return int(doc_id), n_new

    def _insert_fact(self, c: sqlite3.Connection, doc_id: int | None, f: dict, now: float) -> int:
        kv, vv = f["key_vec"], f["value_vec"]
        if kv.shape[-1] != self.dim or vv.shape[-1] != self.dim:
            raise ValueError(f"fact vectors have dimension {kv.shape[-1]}, the KB has {self.dim}")
        kb, vb = _pack_rows(kv.reshape(1, -1))[0], _pack_rows(vv.reshape(1, -1))[0]
        cur = c.execute(
            "INSERT OR IGNORE INTO facts (doc_id, key_text, value_text, key_norm, fact_hash, "
            "chunk, char_start, char_end, sentence, key_vec, value_vec, crc, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc_id,
                f["key_text"],
                f["value_text"],
                f["key_norm"],
                fact_hash(f["key_norm"], f["value_norm"]),
                f.get("chunk"),
                f.get("char_start"),
                f.get("char_end"),
                f.get("sentence"),
                kb,
                vb,
                _crc(f["key_text"], f["value_text"], kb, vb),
                now,
            ),
        )
        return cur.rowcount

    def add_facts(self, facts: Iterable[dict], source: str = "direct") -> int:
        """Store facts without a document (one transaction); returns how many were new."""
        now = time.time()
        with self._write() as c:
            return sum(self._insert_fact(c, None, f, now) for f in facts)

    def delete_fact(self, fact_id: int) -> None:
        """Remove one fact; unknown id -> KeyError (nothing changes)."""
        with self._write() as c:
            if c.execute("DELETE FROM facts WHERE id = ?", (int(fact_id),)).rowcount == 0:
                raise KeyError(f"unknown fact id {fact_id}")

    # ------------------------------------------------------------------------------- reads
    def generation(self) -> int:
        """Counter bumped by every committed write (lets readers know when to rebuild)."""
        return int(self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    def count_facts(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM facts").fetchone()[0])

    def count_documents(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def get_fact(self, fact_id: int) -> FactRecord:
        """One fact with provenance; unknown id -> KeyError."""
        row = self.conn.execute(
            "SELECT f.id, f.key_text, f.value_text, f.key_norm, d.source, f.chunk, "
            "f.char_start, f.char_end, f.sentence FROM facts f "
            "LEFT JOIN documents d ON d.id = f.doc_id WHERE f.id = ?",
            (int(fact_id),),
        ).fetchone()
        if row is None:
            raise KeyError(f"unknown fact id {fact_id}")
        return FactRecord(*row)

    def has_key(self, key_norm: str) -> bool:
        q = "SELECT 1 FROM facts WHERE key_norm = ? LIMIT 1"
        return self.conn.execute(q, (key_norm,)).fetchone() is not None

    def key_norms(self) -> list[tuple[int, str]]:
        return list(self.conn.execute("SELECT id, key_norm FROM facts ORDER BY id"))

    def load_vectors(self) -> dict:
        """All facts' vectors for rebuilding tapes, checksums verified.

        Returns {"ids": [N] int64, "keys": [N, d] int8, "values": [N, d] int8,
        "key_norms": list[str]}; a row failing its CRC -> KBCorruptError naming the fact.
        """
        ids, kbs, vbs, norms = [], [], [], []
        try:
            rows = self.conn.execute(
                "SELECT id, key_text, value_text, key_norm, key_vec, value_vec, crc FROM facts ORDER BY id"
            )
            for fid, kt, vt, kn, kb, vb, crc in rows:
                if len(kb) * 8 != self.dim or len(vb) * 8 != self.dim or _crc(kt, vt, kb, vb) != crc:
                    raise KBCorruptError(f"{self.path}: fact {fid} failed its checksum")
                ids.append(fid)
                kbs.append(kb)
                vbs.append(vb)
                norms.append(kn)
        except sqlite3.DatabaseError as err:
            raise KBCorruptError(f"{self.path}: cannot read facts ({err})") from err
        return {
            "ids": torch.tensor(ids, dtype=torch.int64),
            "keys": _unpack_rows(kbs, self.dim),
            "values": _unpack_rows(vbs, self.dim),
            "key_norms": norms,
        }

    def stats(self) -> dict:
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return {
            "path": str(self.path),
            "dim": self.dim,
            "encoder": self.encoder,
            "documents": self.count_documents(),
            "facts": self.count_facts(),
            "distinct_keys": int(
                self.conn.execute("SELECT COUNT(DISTINCT key_norm) FROM facts").fetchone()[0]
            ),
            "bytes_on_disk": size,
            "generation": self.generation(),
        }
