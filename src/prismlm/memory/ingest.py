"""Documents -> sentences -> (key, value) facts -> the SQLite store, streamed, in linear time.

Reading. A document is read one line at a time (files as UTF-8, decoded strictly: an undecodable
byte is never replaced, it makes its line a reported skip). A line longer than MAX_LINE_CHARS is
drained in bounded pieces and reported, so neither time nor memory grows with line length.
Sentences are the runs `[^.!?;\\n]+[.!?;]*` of a line — two disjoint character classes, matched in
one pass with nothing to backtrack. Consecutive sentences are packed into chunks of at most
`max_chars` characters that never cross a blank line. Each fact remembers its document, chunk,
line, character span (offsets into the decoded text) and sentence.

Facts (rule-based, no model), parsed over whitespace-split words, so every step is O(line):
  * "Key: value" lines — a key of ≤ COLON_KEY_WORDS words before the first colon,
  * copular sentences "X is|are|was|were|means|equals|stands for Y" -> key X, value Y, a leading
    article dropped ("The capital of France is Paris." -> key "capital of france", value "Paris").
Words may be in any script (see `normalize_text`); only the grammar words above are English.
Questions map to keys by the same rules (`question_to_key`: "What is the capital of France?" ->
"capital of france"), so asking uses the exact key a statement stored.

Nothing is dropped silently: every line or fact-shaped sentence that is not stored is counted under
one of SKIP_REASONS in the `IngestResult`, with the first few examples (line numbers).
Memory: facts are encoded and written in batches of `batch` (bit-packed vectors, d/8 bytes each),
so an ingest holds O(batch · d) bytes whatever the document's size.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from .encoders import TextHashEncoder, normalize_text
from .kb_store import KBStore
from .prose import document_sentences, format_for, jsonl_texts, passage_dicts, sentence_encoder

__all__ = [
    "Chunk", "IngestResult", "SKIP_REASONS", "chunk_text", "extract_facts", "question_to_key",
    "ingest_text", "ingest_file", "ingest_files",
]  # fmt: skip

MAX_LINE_CHARS = 20_000
MAX_KEY_WORDS, MAX_VALUE_WORDS = 12, 30
MAX_KEY_CHARS, MAX_VALUE_CHARS = 120, 200
COLON_KEY_WORDS, COLON_KEY_CHARS = 6, 80
MAX_EXAMPLES = 10  # skipped lines quoted per document (all are counted)
SKIP_REASONS = {
    "line_too_long": f"line longer than {MAX_LINE_CHARS} characters",
    "invalid_utf8": "line holds bytes that are not UTF-8",
    "control_characters": "line holds NUL or other control characters (binary data?)",
    "key_too_long": f"fact-shaped, but the key has > {MAX_KEY_WORDS} words or {MAX_KEY_CHARS} chars",
    "value_too_long": f"fact-shaped, but the value has > {MAX_VALUE_WORDS} words or {MAX_VALUE_CHARS} chars",
    "no_letters_or_digits": "fact-shaped, but the key or the value has no letters or digits",
    "invalid_json": "JSONL line that is not valid JSON",
    "no_text_field": "JSONL record that is not an object with a string text field",
}

_SENT = re.compile(r"[^.!?;\n]+[.!?;]*")
_BAD = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")  # C0 controls but \t\n\v\f\r; lone surrogates
_COPULAS = frozenset({"is", "are", "was", "were", "means", "equals"})
_ARTICLES = frozenset({"the", "a", "an"})
_WH = frozenset({"what", "who", "where", "when", "which", "how"})
_AUX = frozenset({"is", "are", "was", "were", "does", "do"})
_DRAIN = 1 << 16


@dataclass
class Chunk:
    index: int
    start: int
    end: int
    text: str


@dataclass
class IngestResult:
    """What one document's ingest did. status: "new", "replaced" (its facts were swapped for the
    new content's) or "unchanged" (same source, same SHA-256: nothing read). skipped: {reason:
    count} (reasons from SKIP_REASONS); skipped_examples: [{reason, line, excerpt}];
    conflicts: [{key, value, other_value, other_source}] — keys another document answers
    differently (first few)."""

    source: str
    status: str
    facts_found: int = 0
    facts_new: int = 0
    facts_removed: int = 0
    sentences: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_examples: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)

    def skip(self, reason: str, line: int, excerpt: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.skipped_examples) < MAX_EXAMPLES:
            printable = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in excerpt[:60])
            self.skipped_examples.append({"reason": reason, "line": line, "excerpt": printable})

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------ reading
def _lines(stream: TextIO, result: IngestResult) -> Iterator[tuple[int, int, str | None]]:
    """(line number from 1, char offset, line — None when skipped) for each line of `stream`.
    `stream` must not translate newlines (newline=""), so offsets index the decoded text."""
    offset, line_no = 0, 0
    while line := stream.readline(MAX_LINE_CHARS + 1):
        line_no += 1
        n = len(line)
        if n > MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            while not line.endswith(("\n", "\r")) and (line := stream.readline(_DRAIN)):
                n += len(line)
            result.skip("line_too_long", line_no, f"{n} characters")
            yield line_no, offset, None
        elif bad := _BAD.search(line):
            reason = "invalid_utf8" if "\ud800" <= bad.group() <= "\udfff" else "control_characters"
            result.skip(reason, line_no, line)
            yield line_no, offset, None
        else:
            yield line_no, offset, line
        offset += n


@dataclass
class _Sentence:
    line: int
    start: int
    end: int
    text: str
    chunk: int


def _sentences(
    lines: Iterable[tuple[int, int, str | None]], max_chars: int
) -> Iterator[tuple[str, list[_Sentence]]]:
    """(line, its sentences with their chunk index) per line that has any; chunks hold
    ≤ max_chars characters (unless one sentence is longer) and never cross a blank line."""
    chunk, chunk_start, fresh_paragraph = -1, 0, True
    for line_no, offset, line in lines:
        if line is None:
            continue
        if not line.strip():
            fresh_paragraph = True
            continue
        out = []
        for m in _SENT.finditer(line):
            lead = len(m.group()) - len(m.group().lstrip())
            if lead == len(m.group()):
                continue
            s, e = offset + m.start() + lead, offset + m.start() + len(m.group().rstrip())
            if fresh_paragraph or e - chunk_start > max_chars:
                chunk, chunk_start, fresh_paragraph = chunk + 1, s, False
            out.append(_Sentence(line_no, s, e, m.group().strip(), chunk))
        if out:
            yield line, out


def chunk_text(text: str, max_chars: int = 800) -> list[Chunk]:
    """Split text into chunks of whole sentences (≤ max_chars unless one sentence is longer)."""
    if max_chars <= 0:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    chunks: list[Chunk] = []
    lines = _lines(io.StringIO(text, newline=""), IngestResult("", "new"))
    for _, sents in _sentences(lines, max_chars):
        for s in sents:
            if chunks and chunks[-1].index == s.chunk:
                chunks[-1].end = s.end
            else:
                chunks.append(Chunk(s.chunk, s.start, s.end, ""))
    for c in chunks:
        c.text = text[c.start : c.end]
    return chunks


# ----------------------------------------------------------------------------- parsing
def _drop_article(words: list[str]) -> list[str]:
    return words[1:] if len(words) > 1 and words[0].casefold() in _ARTICLES else words


def _fact(key_words: list[str], value: str, max_kw: int, max_kc: int) -> tuple[dict | None, str | None]:
    """A fact dict for (key words, value text), or (None, skip reason)."""
    key_words = _drop_article(key_words)
    key = " ".join(key_words)
    if len(key) > max_kc or len(key_words) > max_kw:
        return None, "key_too_long"
    if len(value) > MAX_VALUE_CHARS:
        return None, "value_too_long"
    kn, vn = normalize_text(key), normalize_text(value)
    if not kn or not vn:
        return None, "no_letters_or_digits"
    if len(kn.split()) > MAX_KEY_WORDS:
        return None, "key_too_long"
    if len(vn.split()) > MAX_VALUE_WORDS:
        return None, "value_too_long"
    return {"key_text": key, "value_text": value, "key_norm": kn, "value_norm": vn}, None


def _colon(line: str) -> tuple[dict | None, str | None] | None:
    """The "Key: value" rule on a whole line; None when the line is not of that shape."""
    key, sep, value = line.partition(":")
    words = key.split()
    if not sep or not words or len(words) > COLON_KEY_WORDS or len(" ".join(words)) > COLON_KEY_CHARS:
        return None
    value = " ".join(value.split()).rstrip(".!? ")
    return _fact(words, value, COLON_KEY_WORDS, COLON_KEY_CHARS) if value else None


def _copula(sentence: str) -> tuple[dict | None, str | None] | None:
    """The "X is Y" rule on one sentence (first copula wins); None when it has none."""
    words = sentence.split()
    for i in range(1, len(words) - 1):
        w = words[i].casefold()
        j = i + 1 if w in _COPULAS else i + 2 if w == "stands" and words[i + 1].casefold() == "for" else 0
        if j:
            if any(":" in k for k in words[:i]) or j >= len(words):
                return None
            return _fact(words[:i], " ".join(words[j:]).rstrip(".!?; "), MAX_KEY_WORDS, MAX_KEY_CHARS)
    return None


def _facts_from(stream: TextIO, result: IngestResult, max_chars: int, fmt: str = "text",
                text_field: str = "text") -> Iterator[dict]:  # fmt: skip
    if max_chars <= 0:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    if fmt == "jsonl":  # each record's text, its facts placed on the record's line
        for line_no, text in jsonl_texts(stream, result, text_field):
            for f in _facts_from(io.StringIO(text, newline=""), result, max_chars):
                f["line"] = line_no
                yield f
        return
    for line, sents in _sentences(_lines(stream, result), max_chars):
        colon = _colon(line)
        if colon is not None:
            s, e = sents[0].start, sents[-1].end
            found = [(colon, s, e, " ".join(line.split()))]
        else:
            found = [(c, x.start, x.end, x.text) for x in sents if (c := _copula(x.text)) is not None]
        for (fact, reason), s, e, sentence in found:
            if fact is None:
                result.skip(reason, sents[0].line, sentence)
                continue
            fact.update(chunk=sents[0].chunk, line=sents[0].line, char_start=s, char_end=e,
                        sentence=sentence)  # fmt: skip
            yield fact


def extract_facts(text: str, max_chars: int = 800, result: IngestResult | None = None) -> Iterator[dict]:
    """Yield facts {key_text, value_text, key_norm, value_norm, chunk, line, char_start, char_end,
    sentence} found in `text` (no vectors yet); skips are counted into `result` when given."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    yield from _facts_from(io.StringIO(text, newline=""), result or IngestResult("", "new"), max_chars)


def question_to_key(question: str) -> str:
    """The normalised key a question asks about ("What is the capital of France?" ->
    "capital of france"); text that is not a wh-question is used as the key itself."""
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    words = question.split()
    w0 = words[0].casefold().replace("\u2019", "'") if words else ""
    if len(words) > 2 and w0 in _WH and words[1].casefold() in _AUX:
        words = words[2:]
    elif len(words) > 1 and w0.endswith("'s") and w0[:-2] in _WH:
        words = words[1:]  # "What's the capital of France?"
    key = normalize_text(" ".join(_drop_article(words)))
    if not key:
        raise ValueError(f"cannot ask an empty question: {question!r}")
    return key


# ----------------------------------------------------------------------------- storing
def _encoded(facts: Iterator[dict], encoder: TextHashEncoder, batch: int) -> Iterator[dict]:
    """Attach key_bits / value_bits (packed symbols of key_norm / value_norm), `batch` at a time."""
    buf: list[dict] = []
    for f in facts:
        buf.append(f)
        if len(buf) == batch:
            yield from _encode_batch(buf, encoder)
            buf = []
    yield from _encode_batch(buf, encoder)


def _encode_batch(buf: list[dict], encoder: TextHashEncoder) -> Iterator[dict]:
    if not buf:
        return
    keys = encoder.symbol_bits([f["key_norm"] for f in buf])
    values = encoder.symbol_bits([f["value_norm"] for f in buf])
    for f, k, v in zip(buf, keys, values, strict=True):
        f["key_bits"], f["value_bits"] = k.tobytes(), v.tobytes()
        yield f


def _ingest(store, source, sha, n_bytes, open_stream, encoder, max_chars, on_fact, batch,
            fmt="text", sentences="auto", text_field="text") -> IngestResult:  # fmt: skip
    encoder = encoder or TextHashEncoder(store.dim)
    fmt = format_for(source, fmt)
    dense = sentence_encoder(sentences)
    if encoder.dim != store.dim:
        raise ValueError(f"encoder dim {encoder.dim} != KB dim {store.dim}")
    if encoder.name != store.encoder:
        raise ValueError(f"the KB was built with encoder {store.encoder}, not {encoder.name}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    result = IngestResult(source, "new")

    def facts() -> Iterator[dict]:  # opened only if the store needs the content
        with open_stream() as stream:
            yield from _encoded(_facts_from(stream, result, max_chars, fmt, text_field), encoder, batch)

    def sentence_rows() -> Iterator[dict]:  # a second linear pass; its line skips were counted
        with open_stream() as stream:
            sents = document_sentences(stream, IngestResult(source, "new"), fmt, max_chars, text_field)
            yield from passage_dicts(sents, dense)

    w = store.add_document(source, sha, n_bytes, facts(), on_fact=on_fact, passages=sentence_rows())
    result.status, result.facts_found, result.sentences = w["status"], w["n_facts"], w["n_passages"]
    result.facts_new, result.facts_removed, result.conflicts = w["n_new"], w["n_removed"], w["conflicts"]
    return result


def ingest_text(
    store: KBStore,
    text: str,
    source: str,
    encoder: TextHashEncoder | None = None,
    max_chars: int = 800,
    on_fact: Callable[[int], None] | None = None,
    batch: int = 256,
    fmt: str | None = "text",
    sentences="auto",
) -> IngestResult:
    """Extract, encode and store one document named `source` (one transaction): its pattern
    facts and every sentence (embedded with the sentence encoder `sentences`, see
    `prose.sentence_encoder`); a source already stored with other content is replaced.
    fmt: "text", "markdown", "jsonl" or None (from the source's suffix)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    data = text.encode("utf-8", "surrogatepass")
    return _ingest(store, source, hashlib.sha256(data).hexdigest(), len(data),
                   lambda: io.StringIO(text, newline=""), encoder, max_chars, on_fact, batch, fmt,
                   sentences)  # fmt: skip


def ingest_file(
    store: KBStore,
    path: str | Path,
    encoder: TextHashEncoder | None = None,
    max_chars: int = 800,
    on_fact: Callable[[int], None] | None = None,
    batch: int = 256,
    fmt: str | None = None,
    sentences="auto",
    text_field: str = "text",
) -> IngestResult:
    """Stream one UTF-8 file into the store (source = its resolved path; format from its suffix
    unless `fmt`; JSONL prose in `text_field`); see ingest_text."""
    path = Path(path)
    h, n = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            n += len(block)

    def open_stream() -> TextIO:  # undecodable bytes -> lone surrogates -> reported skips
        return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")

    return _ingest(store, str(path.resolve()), h.hexdigest(), n, open_stream, encoder, max_chars,
                   on_fact, batch, format_for(path, fmt), sentences, text_field)  # fmt: skip


def ingest_files(
    store: KBStore,
    paths: list[str | Path],
    encoder: TextHashEncoder | None = None,
    sentences="auto",
    text_field: str = "text",
) -> list[IngestResult]:
    """Ingest text files (each its own transaction); paths that are not files raise before
    anything is written. Returns one IngestResult per file."""
    files = [Path(p) for p in paths]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no such file(s): {', '.join(missing)}")
    encoder, dense = encoder or TextHashEncoder(store.dim), sentence_encoder(sentences)
    return [ingest_file(store, p, encoder, sentences=dense, text_field=text_field) for p in files]
