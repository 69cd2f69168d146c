"""The read side of the knowledge-base store: counts, facts, passages and vectors, checksums
verified on every row read (a damaged row is named, never answered from).

`KBReads` is a mixin: `KBStore` (kb_store.py, the write side) provides `conn`, `path` and `dim`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import torch

from .kb_schema import (
    FACT_SELECT,
    FactRecord,
    KBCorruptError,
    PassageRecord,
    passage_crc,
    row_crc,
    unpack_rows,
)

MAX_REPORTED = 20  # conflicts listed per document, facts per key in an answer


class KBReads:
    """Typed readers over an open store's connection (`self.conn`, `self.path`, `self.dim`)."""

    conn: sqlite3.Connection
    path: Path
    dim: int
    encoder: str

    def generation(self) -> int:
        """Counter bumped by every committed write (lets readers know when to rebuild)."""
        return int(self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    def count_facts(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM facts").fetchone()[0])

    def count_documents(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def get_fact(self, fact_id: int) -> FactRecord:
        """One fact with provenance; unknown id -> KeyError."""
        row = self.conn.execute(FACT_SELECT + "WHERE f.id = ?", (int(fact_id),)).fetchone()
        if row is None:
            raise KeyError(f"unknown fact id {fact_id}")
        return FactRecord(*row)

    def facts_for_key(self, key_norm: str, limit: int = MAX_REPORTED) -> list[FactRecord]:
        """Up to `limit` stored facts with this normalised key (several values = a conflict or a
        multi-valued key), oldest first."""
        q = FACT_SELECT + "WHERE f.key_norm = ? ORDER BY f.id LIMIT ?"
        return [FactRecord(*r) for r in self.conn.execute(q, (key_norm, int(limit)))]

    def has_key(self, key_norm: str) -> bool:
        q = "SELECT 1 FROM facts WHERE key_norm = ? LIMIT 1"
        return self.conn.execute(q, (key_norm,)).fetchone() is not None

    def key_norms(self) -> list[tuple[int, str]]:
        return list(self.conn.execute("SELECT id, key_norm FROM facts ORDER BY id"))

    def key_values(self, limit: int | None = None) -> list[tuple[str, str]]:
        """(key_norm, value_text) of the first `limit` facts (all when None), oldest first."""
        q = "SELECT key_norm, value_text FROM facts ORDER BY id LIMIT ?"
        return list(self.conn.execute(q, (-1 if limit is None else int(limit),)))

    def value_texts(self) -> dict[int, str]:
        """{fact id: value text} for every fact."""
        return dict(self.conn.execute("SELECT id, value_text FROM facts"))

    def count_passages(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def get_passage(self, passage_id: int) -> PassageRecord:
        """One sentence with its provenance; unknown id -> KeyError."""
        row = self.conn.execute(
            "SELECT p.id, d.source, p.chunk, p.line, p.char_start, p.char_end, p.text, p.context "
            "FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id = ?",
            (int(passage_id),),
        ).fetchone()
        if row is None:
            raise KeyError(f"unknown passage id {passage_id}")
        return PassageRecord(*row)

    def load_passages(self) -> dict:
        """Every sentence for building the retrievers, checksums verified.

        Returns {"ids": [N] int64, "texts": list[str] (context + sentence: what is matched),
        "encoders": list[str | None], "emb": [N, w] float32 or None (None unless every row has
        an embedding from one encoder)}; a damaged row -> KBCorruptError naming the passage.
        """
        ids, texts, encs, embs = [], [], [], []
        try:
            rows = self.conn.execute("SELECT id, text, context, encoder, emb, crc FROM passages ORDER BY id")
            for pid, text, ctx, enc, emb, crc in rows:
                if not isinstance(text, str) or passage_crc(text, ctx, emb) != crc:
                    raise KBCorruptError(f"{self.path}: passage {pid} failed its checksum")
                ids.append(pid)
                texts.append(f"{ctx} {text}" if ctx else text)
                encs.append(enc)
                embs.append(emb)
        except sqlite3.DatabaseError as err:
            raise KBCorruptError(f"{self.path}: cannot read passages ({err})") from err
        dense = None
        if embs and all(e is not None for e in embs) and len(set(encs)) == 1:
            flat = np.frombuffer(b"".join(embs), dtype=np.float16)
            dense = torch.from_numpy(flat.reshape(len(embs), -1).astype(np.float32))
        return {"ids": torch.tensor(ids, dtype=torch.int64), "texts": texts, "encoders": encs,
                "emb": dense}  # fmt: skip

    def load_vectors(self) -> dict:
        """All facts' vectors for rebuilding tapes, checksums verified.

        Returns {"ids": [N] int64, "keys": [N, d] int8, "values": [N, d] int8,
        "key_norms": list[str]}; a row failing its CRC -> KBCorruptError naming the fact.
        """
        ids, kbs, vbs, norms = [], [], [], []
        for fid, kn, kb, vb, ok in self._checked_rows():
            if not ok:
                raise KBCorruptError(f"{self.path}: fact {fid} failed its checksum")
            ids.append(fid)
            kbs.append(kb)
            vbs.append(vb)
            norms.append(kn)
        return {
            "ids": torch.tensor(ids, dtype=torch.int64),
            "keys": unpack_rows(kbs, self.dim),
            "values": unpack_rows(vbs, self.dim),
            "key_norms": norms,
        }

    def damaged_facts(self) -> list[int]:
        """Ids of the facts failing their checksum (empty for a sound store)."""
        return [fid for fid, _, _, _, ok in self._checked_rows() if not ok]

    def _checked_rows(self):
        try:
            rows = self.conn.execute(
                "SELECT id, key_text, value_text, key_norm, value_norm, key_vec, value_vec, crc "
                "FROM facts ORDER BY id"
            )
            for fid, kt, vt, kn, vn, kb, vb, crc in rows:
                ok = (
                    isinstance(kb, bytes) and isinstance(vb, bytes)
                    and len(kb) * 8 == self.dim and len(vb) * 8 == self.dim
                    and all(isinstance(t, str) for t in (kt, vt, kn, vn))
                    and row_crc((kt, vt, kn, vn), kb, vb) == crc
                )  # fmt: skip
                yield fid, kn, kb, vb, ok
        except sqlite3.DatabaseError as err:
            raise KBCorruptError(f"{self.path}: cannot read facts ({err})") from err

    def stats(self) -> dict:
        """Counts and sizes; reads no vectors, so it works on a store with damaged rows."""
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        one = lambda q: int(self.conn.execute(q).fetchone()[0])  # noqa: E731
        return {
            "path": str(self.path),
            "dim": self.dim,
            "encoder": self.encoder,
            "documents": self.count_documents(),
            "facts": self.count_facts(),
            "passages": self.count_passages(),
            "distinct_keys": one("SELECT COUNT(DISTINCT key_norm) FROM facts"),
            "multi_valued_keys": one(
                "SELECT COUNT(*) FROM (SELECT 1 FROM facts GROUP BY key_norm HAVING COUNT(*) > 1)"
            ),
            "bytes_on_disk": size,
            "generation": self.generation(),
        }
