"""Prose sources for the knowledge base: formats, the sentence encoder choice, passage streams.

Formats (`format_for(path)`): "text" (default), "markdown" (.md, .markdown), "jsonl" (.jsonl,
.ndjson: one JSON object per line, its `text_field` holding the prose; a record that is not an
object, or lacks the field, is a reported skip). For JSONL, a sentence's `line` is the record's
line in the file and its char_start/char_end index that record's text.

The sentence encoder (`sentence_encoder("auto")`): all-MiniLM-L6-v2 when the optional package
is installed and $PRISMLM_KB_ENCODER is not "lexical"; None otherwise (the KB then answers with
BM25 alone). The model is loaded once per process.

`ingest_dataset(store, name, split, text_field)`: a Hugging Face dataset, for users who are
online (`datasets` is imported only inside it, never by default).

`passage_dicts(sentences, encoder, batch)` embeds sentences `batch` at a time (the sentence plus
its pronoun context, see `segment`), so memory is O(batch) whatever the document's length.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np
import torch

from .answer import relation_text
from .encoders import SentenceEncoder, sentence_encoder_available
from .retrieval import PASSAGE_DIM
from .segment import Sentence, passages

__all__ = ["FORMATS", "format_for", "sentence_encoder", "passage_dicts", "document_sentences",
           "jsonl_texts", "ENV_ENCODER", "ingest_dataset", "dense_name"]  # fmt: skip

FORMATS = ("text", "markdown", "jsonl")
ENV_ENCODER = "PRISMLM_KB_ENCODER"
_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_LOADED: dict[int, SentenceEncoder] = {}


def format_for(path: str | Path, fmt: str | None = None) -> str:
    """The format of a file: `fmt` when given (checked), else from its suffix."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
        return fmt
    return _SUFFIXES.get(Path(path).suffix.casefold(), "text")


def sentence_encoder(spec="auto", dim: int = PASSAGE_DIM) -> SentenceEncoder | None:
    """Resolve an encoder choice: "auto" (see module docstring), "lexical"/None (none), "sentence"
    (required: ImportError when missing) or a SentenceEncoder instance (returned as is)."""
    if spec is None or isinstance(spec, SentenceEncoder):
        return spec
    if spec not in ("auto", "lexical", "sentence"):
        raise ValueError(f"encoder must be 'auto', 'lexical' or 'sentence', got {spec!r}")
    if spec == "lexical" or (spec == "auto" and os.environ.get(ENV_ENCODER, "") == "lexical"):
        return None
    if spec == "auto" and not sentence_encoder_available():
        return None
    if dim not in _LOADED:
        _LOADED[dim] = SentenceEncoder(dim)
    return _LOADED[dim]


def _lines_of(stream: TextIO, result):
    from .ingest import _lines  # the one bounded, hostile-text-safe line reader

    return _lines(stream, result)


def dense_name(encoder: SentenceEncoder) -> str:
    """The name stored with a passage's embeddings (sentence + relation, see passage_dicts)."""
    return f"{encoder.name}+relation"


def jsonl_texts(stream: TextIO, result, text_field: str = "text") -> Iterator[tuple[int, str]]:
    """(line number, text) per JSONL record; malformed records are counted into `result`."""
    for line_no, _, line in _lines_of(stream, result):
        if line is None or not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            result.skip("invalid_json", line_no, line)
            continue
        text = rec.get(text_field) if isinstance(rec, dict) else None
        if not isinstance(text, str):
            result.skip("no_text_field", line_no, line)
            continue
        yield line_no, text


def document_sentences(stream: TextIO, result, fmt: str, max_chars: int = 800,
                       text_field: str = "text") -> Iterator[Sentence]:  # fmt: skip
    """Every sentence of one document in reading order (see `segment.passages`)."""
    if fmt != "jsonl":
        yield from passages(_lines_of(stream, result), fmt, max_chars)
        return
    chunk = 0
    for line_no, text in jsonl_texts(stream, result, text_field):
        for s in passages(_lines_of(io.StringIO(text, newline=""), result), "text", max_chars, chunk):
            s.line = line_no
            chunk = s.chunk + 1
            yield s


def passage_dicts(sentences: Iterator[Sentence], encoder: SentenceEncoder | None,
                  batch: int = 64) -> Iterator[dict]:  # fmt: skip
    """Store rows for sentences: text, context, chunk, line, char span, and (with an encoder) two
    float16 embeddings side by side [2 · 384]: of "context sentence", and of the sentence's
    `answer.relation_text` (names and numbers dropped), under `dense_name(encoder)`."""
    buf: list[dict] = []

    def emit() -> Iterator[dict]:
        if encoder is not None and buf:
            full = encoder.embed([f"{d['context']} {d['text']}" if d["context"] else d["text"] for d in buf])
            rel = encoder.embed([relation_text(d["text"]) for d in buf])
            emb = torch.cat([full, rel], dim=1).numpy().astype(np.float16)
            for d, e in zip(buf, emb, strict=True):
                d["emb"], d["encoder"] = e.tobytes(), dense_name(encoder)
        yield from buf
        buf.clear()

    for s in sentences:
        buf.append({"text": s.text, "context": s.context, "chunk": s.chunk, "line": s.line,
                    "char_start": s.char_start, "char_end": s.char_end})  # fmt: skip
        if len(buf) >= batch:
            yield from emit()
    yield from emit()


class _RowStream:
    """A read-only text stream of JSONL lines {"text": ...} made lazily from dataset rows, so a
    dataset is read like a JSONL file (readline(n) honours n, as `ingest._lines` needs)."""

    def __init__(self, rows, text_field: str) -> None:
        self._rows, self._field, self._buf = iter(rows), text_field, ""

    def readline(self, n: int = -1) -> str:
        while "\n" not in self._buf:
            row = next(self._rows, None)
            if row is None:
                break
            text = row.get(self._field) if isinstance(row, dict) else None
            self._buf += json.dumps({"text": text}, ensure_ascii=False) + "\n"
        cut = self._buf.find("\n") + 1 or len(self._buf)
        cut = min(cut, n) if n is not None and n >= 0 else cut
        line, self._buf = self._buf[:cut], self._buf[cut:]
        return line

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def ingest_dataset(store, name: str, split: str = "train", text_field: str = "text",
                   config: str | None = None, limit: int | None = None, sentences="auto"):  # fmt: skip
    """Ingest a Hugging Face dataset's text column (needs `datasets` and, unless cached, the
    network; imported only here). Source "hf:NAME[/CONFIG]:SPLIT"; each row is a record, its
    row number the provenance line. limit: the first `limit` rows. Returns an IngestResult."""
    import hashlib
    import itertools

    from .ingest import _ingest

    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError as err:  # pragma: no cover - optional
        raise ImportError("ingest_dataset needs the optional package 'datasets'") from err
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    source = f"hf:{name}" + (f"/{config}" if config else "") + f":{split}"
    sha = hashlib.sha256(f"{source}|{text_field}|{limit}".encode()).hexdigest()

    def open_stream() -> _RowStream:  # pragma: no cover - needs a dataset
        rows = datasets.load_dataset(name, config, split=split, streaming=True)
        return _RowStream(itertools.islice(rows, limit), text_field)

    return _ingest(store, source, sha, 0, open_stream, None, 800, None, 256, "jsonl", sentences, "text")
