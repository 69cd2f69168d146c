"""Documents -> chunks -> (key, value) facts -> the SQLite store.

Chunking: paragraphs (blank lines) split into sentences, sentences packed into chunks of at most
`max_chars` characters; every fact remembers its chunk and character span.
Fact extraction (rule-based, no model):
  * "Key: value" lines (a short key before a colon),
  * copular sentences "X is|are|was|were|means|equals Y" -> key X, value Y
    (leading articles dropped from the key: "The capital of France is Paris." ->
    key "capital of france", value "Paris").
Questions are mapped to keys by the same rules (`question_to_key`: "What is the capital of
France?" -> "capital of france"), so asking uses the exact key a statement stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .encoders import TextHashEncoder, normalize_text
from .kb_store import KBStore

__all__ = ["Chunk", "chunk_text", "extract_facts", "question_to_key", "ingest_text", "ingest_files"]

_SENT = re.compile(r"[^.!?\n]+(?:[.!?]+|(?=\n)|$)")
_COPULA = re.compile(
    r"^\s*(?P<key>[^.;:!?]{1,120}?)\s+(?P<verb>is|are|was|were|means|equals|stands for)\s+"
    r"(?P<value>[^;]{1,200}?)\s*[.!?]*\s*$",
    re.IGNORECASE,
)
_COLON = re.compile(r"^\s*(?P<key>[^:\n]{1,80}?)\s*:\s*(?P<value>\S.{0,200}?)\s*$")
_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_QUESTION = re.compile(
    r"^\s*(what|who|where|when|which|how)\s+(is|are|was|were|does|do)\s+(?P<key>.+?)\s*\??\s*$",
    re.IGNORECASE,
)
MAX_KEY_WORDS, MAX_VALUE_WORDS = 12, 30


@dataclass
class Chunk:
    index: int
    start: int
    end: int
    text: str


def chunk_text(text: str, max_chars: int = 800) -> list[Chunk]:
    """Split text into chunks of whole sentences (≤ max_chars unless one sentence is longer)."""
    if max_chars <= 0:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    chunks: list[Chunk] = []
    cur_start = cur_end = None
    for m in _SENT.finditer(text):
        if not m.group().strip():
            continue
        s, e = m.start(), m.end()
        if cur_start is not None and (e - cur_start > max_chars or "\n\n" in text[cur_end:s]):
            chunks.append(Chunk(len(chunks), cur_start, cur_end, text[cur_start:cur_end]))
            cur_start = None
        if cur_start is None:
            cur_start = s
        cur_end = e
    if cur_start is not None:
        chunks.append(Chunk(len(chunks), cur_start, cur_end, text[cur_start:cur_end]))
    return chunks


def _clean_key(key: str) -> str:
    return _ARTICLE.sub("", key.strip())


def _accept(key: str, value: str) -> bool:
    kn, vn = normalize_text(key), normalize_text(value)
    return bool(kn) and bool(vn) and len(kn.split()) <= MAX_KEY_WORDS and len(vn.split()) <= MAX_VALUE_WORDS


def extract_facts(text: str, max_chars: int = 800) -> Iterator[dict]:
    """Yield facts {key_text, value_text, key_norm, value_norm, chunk, char_start, char_end,
    sentence} found in `text` (no vectors yet)."""
    for ch in chunk_text(text, max_chars):
        for line_m in re.finditer(r"[^\n]+", ch.text):
            line = line_m.group()
            colon = _COLON.match(line)
            if colon and len(colon.group("key").split()) <= 6:
                pieces = [(colon.group("key"), colon.group("value").rstrip(".!? "), line_m)]
            else:
                pieces = []
                for sm in _SENT.finditer(line):
                    cm = _COPULA.match(sm.group())
                    if cm:
                        pieces.append((cm.group("key"), cm.group("value"), sm))
            for key, value, m in pieces:
                key = _clean_key(key)
                if not _accept(key, value):
                    continue
                start = ch.start + line_m.start() + (m.start() if m is not line_m else 0)
                sentence = m.group().strip()
                yield {
                    "key_text": key,
                    "value_text": value.strip(),
                    "key_norm": normalize_text(key),
                    "value_norm": normalize_text(value),
                    "chunk": ch.index,
                    "char_start": start,
                    "char_end": start + len(m.group()),
                    "sentence": sentence,
                }


def question_to_key(question: str) -> str:
    """The normalised key a question asks about ("What is the capital of France?" ->
    "capital of france"); text that is not a wh-question is used as the key itself."""
    m = _QUESTION.match(question)
    key = m.group("key") if m else question.strip().rstrip("?")
    key = normalize_text(_clean_key(key))
    if not key:
        raise ValueError(f"cannot ask an empty question: {question!r}")
    return key


def encode_facts(facts: list[dict], encoder: TextHashEncoder) -> list[dict]:
    """Attach key_vec = symbol(key_norm), value_vec = symbol(value_norm) to each fact."""
    if not facts:
        return facts
    keys = encoder.symbol([f["key_norm"] for f in facts])
    values = encoder.symbol([f["value_norm"] for f in facts])
    for f, k, v in zip(facts, keys, values, strict=True):
        f["key_vec"], f["value_vec"] = k, v
    return facts


def ingest_text(
    store: KBStore,
    text: str,
    source: str,
    encoder: TextHashEncoder | None = None,
    max_chars: int = 800,
    on_fact: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Extract, encode and store one document (one transaction). Returns (n_found, n_new)."""
    encoder = encoder or TextHashEncoder(store.dim)
    if encoder.dim != store.dim:
        raise ValueError(f"encoder dim {encoder.dim} != KB dim {store.dim}")
    facts = encode_facts(list(extract_facts(text, max_chars)), encoder)
    _, n_new = store.add_document(source, text, facts, on_fact=on_fact)
    return len(facts), n_new


def ingest_files(
    store: KBStore, paths: list[str | Path], encoder: TextHashEncoder | None = None
) -> list[dict]:
    """Ingest text files (each its own transaction); missing or unreadable files raise before
    anything is written. Returns one report per file."""
    files = [Path(p) for p in paths]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no such file(s): {', '.join(missing)}")
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    encoder = encoder or TextHashEncoder(store.dim)
    reports = []
    for p, text in zip(files, texts, strict=True):
        found, new = ingest_text(store, text, str(p.resolve()), encoder)
        reports.append({"file": str(p), "facts_found": found, "facts_new": new})
    return reports
