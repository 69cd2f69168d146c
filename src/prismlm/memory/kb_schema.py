"""The knowledge base's on-disk format: SQLite tables, row codec, checksums, atomic creation.

Tables (schema version SCHEMA_VERSION)
    meta(key, value)            schema_version, dim, encoder, write generation
    documents(id, source UNIQUE, sha256, n_bytes, n_facts, ingested_at)
    facts(id, key_text, value_text, key_norm, value_norm, fact_hash UNIQUE, pinned, key_vec,
          value_vec, crc, created_at)   pinned: added directly (KBStore.add_facts), kept even
                                        when no document mentions it
    mentions(id, fact_id, doc_id, chunk, line, char_start, char_end, sentence)
    passages(id, doc_id, chunk, line, char_start, char_end, text, context, encoder, emb, crc)
                                every sentence of every document (what answers questions):
                                `emb` the sentence embedding (float16, NULL when ingested without
                                a sentence encoder), `encoder` its model's name
Vectors are bit-packed ({-1, +1}^d -> d/8 bytes); `crc` is CRC-32 over the fact's texts and
vectors. char_start/char_end index the document's decoded text; line counts from 1.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "SCHEMA_VERSION", "DEFAULT_DIM", "KBCorruptError", "FactRecord", "fact_hash", "row_crc",
    "pack_rows", "unpack_rows", "check_dim", "create_kb_file", "PassageRecord", "passage_crc",
]  # fmt: skip

SCHEMA_VERSION = 3  # 3: passages (every sentence, with provenance and embedding)
DEFAULT_DIM = 8192

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY, source TEXT UNIQUE NOT NULL, sha256 TEXT NOT NULL,
    n_bytes INTEGER NOT NULL, n_facts INTEGER NOT NULL, ingested_at REAL NOT NULL);
CREATE TABLE facts (
    id INTEGER PRIMARY KEY, key_text TEXT NOT NULL, value_text TEXT NOT NULL,
    key_norm TEXT NOT NULL, value_norm TEXT NOT NULL, fact_hash TEXT UNIQUE NOT NULL,
    pinned INTEGER NOT NULL DEFAULT 0, key_vec BLOB NOT NULL, value_vec BLOB NOT NULL,
    crc INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE mentions (
    id INTEGER PRIMARY KEY, fact_id INTEGER NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk INTEGER, line INTEGER, char_start INTEGER, char_end INTEGER, sentence TEXT);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk INTEGER, line INTEGER, char_start INTEGER, char_end INTEGER, text TEXT NOT NULL,
    context TEXT, encoder TEXT, emb BLOB, crc INTEGER NOT NULL);
CREATE INDEX passages_doc ON passages(doc_id);
CREATE INDEX facts_key_norm ON facts(key_norm);
CREATE INDEX mentions_fact ON mentions(fact_id);
CREATE INDEX mentions_doc ON mentions(doc_id);
"""

# first mention = the provenance shown with a fact
FACT_SELECT = (
    "SELECT f.id, f.key_text, f.value_text, f.key_norm, d.source, m.chunk, m.char_start, "
    "m.char_end, m.sentence, m.line FROM facts f "
    "LEFT JOIN mentions m ON m.id = (SELECT MIN(id) FROM mentions WHERE fact_id = f.id) "
    "LEFT JOIN documents d ON d.id = m.doc_id "
)


class KBCorruptError(RuntimeError):
    """The store file is not a readable prismlm knowledge base (or a row failed its checksum)."""


@dataclass
class FactRecord:
    """One stored fact with the provenance of its first mention (vectors are not loaded here)."""

    id: int
    key_text: str
    value_text: str
    key_norm: str
    source: str | None
    chunk: int | None
    char_start: int | None
    char_end: int | None
    sentence: str | None
    line: int | None = None


@dataclass
class PassageRecord:
    """One stored sentence with its provenance (document source, chunk, line, character span)."""

    id: int
    source: str
    chunk: int | None
    line: int | None
    char_start: int | None
    char_end: int | None
    text: str
    context: str | None


def passage_crc(text: str, context: str | None, emb: bytes | None) -> int:
    """CRC-32 over a passage's text, context and embedding bytes."""
    c = zlib.crc32(text.encode("utf-8", "surrogatepass") + b"\x1f")
    c = zlib.crc32((context or "").encode("utf-8", "surrogatepass") + b"\x1f", c)
    return zlib.crc32(emb or b"", c)


def fact_hash(key_norm: str, value_norm: str) -> str:
    """Identity of a fact: SHA-256 of its normalised key and value."""
    return hashlib.sha256(f"{key_norm}\x1f{value_norm}".encode()).hexdigest()


def row_crc(texts: Iterable[str], key_vec: bytes, value_vec: bytes) -> int:
    """CRC-32 over a fact's texts (key_text, value_text, key_norm, value_norm) and packed vectors."""
    c = 0
    for t in texts:
        c = zlib.crc32(t.encode("utf-8", "surrogatepass") + b"\x1f", c)
    return zlib.crc32(value_vec, zlib.crc32(key_vec, c))


def pack_rows(x: torch.Tensor) -> list[bytes]:
    """[N, d] bipolar -> N blobs of d/8 bytes (np.packbits order, bit 1 = +1)."""
    bits = np.packbits((x.numpy() >= 0).astype(np.uint8), axis=1)
    return [row.tobytes() for row in bits]


def unpack_rows(blobs: list[bytes], dim: int) -> torch.Tensor:
    """N blobs of d/8 bytes -> [N, d] int8 in {-1, +1}."""
    if not blobs:
        return torch.empty(0, dim, dtype=torch.int8)
    packed = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), dim // 8)
    bits = np.unpackbits(packed, axis=1).astype(np.int8)
    return torch.from_numpy(bits * 2 - 1)


def check_dim(dim) -> int:
    """A KB dimension: an int, positive multiple of 8 (ValueError naming `dim` otherwise)."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 8 or dim % 8:
        raise ValueError(f"dim must be a positive multiple of 8, got {dim!r}")
    return dim


def create_kb_file(path: Path, dim: int, encoder: str) -> None:
    """Create an empty KB at `path` atomically: the schema is written to a private temporary file
    in the same folder, which is then hard-linked to `path` — so `path` either does not exist or
    is complete. If another process created `path` first, its file is kept (callers then open it
    and check its meta)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.creating")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # honours the umask
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.executescript("BEGIN;" + SCHEMA + "COMMIT;")
            meta = {
                "schema_version": str(SCHEMA_VERSION),
                "dim": str(dim),
                "encoder": encoder,
                "generation": "0",
            }
            conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: open theirs (meta is checked next)
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
