"""Prose -> paragraphs -> sentences with provenance, in one linear pass.

    for s in passages(stream, result, fmt="markdown"):   # fmt: "text" | "markdown"
        s.line, s.char_start, s.char_end, s.chunk, s.text, s.context

Lines come from `ingest._lines` (bounded line length, undecodable or binary lines reported and
skipped). Consecutive non-blank lines form a paragraph — so a hard-wrapped sentence is one
sentence — that ends at a blank line, a skipped line, or (markdown) a heading, list item, quote or
code fence; code blocks are not prose and are left out. A paragraph longer than MAX_PARAGRAPH is
cut at a line boundary, so memory stays bounded.

Sentence boundaries: [.!?] (then closing quotes/brackets) followed by white space and a
capital letter, digit or opening quote, or a CJK full stop 。！？ — unless the word before the
stop is a known abbreviation ("Dr.", "St.", "e.g.") or a single letter ("J. Smith"). Every
boundary candidate is one regex match, decided by looking at O(1) characters around it. A
sentence longer than MAX_SENTENCE characters is cut at white space. Offsets index the decoded
document (for JSONL: the record's text). `context` is the previous sentence of the paragraph
when this one opens with a pronoun ("It was founded in 1870."), so a retriever can see what
"it" names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["Sentence", "passages", "split_sentences", "MAX_SENTENCE", "MAX_PARAGRAPH"]

MAX_SENTENCE = 600
MAX_PARAGRAPH = 20_000
_BOUNDARY = re.compile(r"(?<![.!?])[.!?]++[\"'”’)\]]*+(?=\s++[\"'“‘(\[]?[^\W_a-z])|[。！？]++[」』）]*+")
_WORD_BEFORE = re.compile(r"(\w+)\W*$")
_ABBREV = frozenset(
    "dr mr mrs ms prof st mt ft jr sr vs etc eg ie cf no vol fig approx dept est inc ltd co "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_PRONOUNS = frozenset("it its he his she her they their this these there the latter".split())
_MD_BLOCK = re.compile(r"\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d{1,9}[.)]\s+)")
_MD_INLINE = re.compile(r"!?\[([^\]\n]{0,300})\]\([^)\n]{0,500}\)|[*_`]+")


@dataclass
class Sentence:
    """One sentence: `text` (white space collapsed; markdown markup removed), its span
    [char_start, char_end) in the document, the line it starts on (from 1), its chunk index."""

    text: str
    char_start: int
    char_end: int
    line: int
    chunk: int
    context: str | None = None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of one paragraph; linear in len(text)."""
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        w = _WORD_BEFORE.search(text, max(start, m.start() - 12), m.start() + 1)
        word = w.group(1).casefold() if w else ""
        if m.group()[0] == "." and (word in _ABBREV or (len(word) == 1 and word.isalpha())):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        while e - s > MAX_SENTENCE:  # cut an over-long run at white space
            cut = text.rfind(" ", s + MAX_SENTENCE // 2, s + MAX_SENTENCE)
            cut = cut if cut > s else s + MAX_SENTENCE
            out.append((s, cut))
            s = cut + 1 if cut < e and text[cut] == " " else cut
        if e > s:
            out.append((s, e))
    return out


def _clean(text: str, markdown: bool) -> str:
    if markdown:
        text = _MD_INLINE.sub(lambda m: m.group(1) or "", text)
    return " ".join(text.split())


def passages(
    lines: Iterable[tuple[int, int, str | None]],
    fmt: str = "text",
    max_chars: int = 800,
    chunk0: int = 0,
) -> Iterator[Sentence]:
    """Sentences of a document given its lines (line number, char offset, line or None when
    skipped), as `ingest._lines` yields them. fmt "markdown" honours block structure (see module
    docstring). Chunks: consecutive sentences of one paragraph, ≤ max_chars characters each
    (unless one sentence is longer), numbered from chunk0."""
    if fmt not in ("text", "markdown"):
        raise ValueError(f"fmt must be 'text' or 'markdown', got {fmt!r}")
    if max_chars <= 0:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    md = fmt == "markdown"
    state = {"chunk": chunk0 - 1}
    para: list[str] = []
    para_start = para_line = para_len = 0
    fence = False

    def flush() -> Iterator[Sentence]:
        text = "".join(para)
        para.clear()
        state["chunk"] += 1
        chunk_start, prev, seen, line = None, None, 0, para_line
        for s, e in split_sentences(text):
            if chunk_start is not None and e - chunk_start > max_chars:
                state["chunk"] += 1
                chunk_start = None
            chunk_start = s if chunk_start is None else chunk_start
            clean = _clean(text[s:e], md)
            if not clean:
                continue
            line, seen = line + text.count("\n", seen, s), s  # incremental: linear overall
            first = clean.split(None, 1)[0].casefold()
            ctx = prev if prev is not None and first in _PRONOUNS else None
            yield Sentence(clean, para_start + s, para_start + e, line, state["chunk"], ctx)
            prev = clean

    for line_no, offset, line in lines:
        if md and line is not None and line.lstrip().startswith(("```", "~~~")):
            fence = not fence
            line = None
        elif md and fence:
            line = None
        block = md and line is not None and _MD_BLOCK.match(line) is not None
        if line is None or not line.strip() or block or para_len > MAX_PARAGRAPH:
            if para:
                yield from flush()
                para_len = 0
        if line is None or not line.strip():
            continue
        if block:
            m = _MD_BLOCK.match(line)
            line, offset = line[m.end() :], offset + m.end()
        if not para:
            para_start, para_line = offset, line_no
        para.append(line)
        para_len += len(line)
        if block and not line.rstrip().endswith((".", "!", "?")):
            yield from flush()  # a heading or list item is its own passage
            para_len = 0
    if para:
        yield from flush()
