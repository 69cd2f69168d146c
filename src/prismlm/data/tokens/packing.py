"""Rows -> token ids with a loss mask, and documents packed into fixed windows.

Each document is tokenised without special tokens and ends with EOS. A `PackedStream` lays the
documents of one source end to end and cuts windows of T + 1 tokens with stride T, so every token
is a target exactly once: inputs = w[:T], targets = w[1:], mask = m[1:] (m_i = 1 when token i is
to be predicted). When the source runs out it starts over (the next epoch), so a stream never
ends and never pads.

Instruct rows (phase "instruct") put mask 0 on the prompt and 1 on the response and its EOS:
* a row with "messages" ([{"role", "content"}, …]) uses the tokenizer's chat template when it has
  one (each message's span is the growth of the rendered prefix), else "### {Role}:\\n{content}\\n\\n";
  assistant messages are the response;
* otherwise "### Instruction:\\n{instruction}[\\n\\n{input}]\\n\\n### Response:\\n" is the prompt and
  the output is the response; field names are matched from INSTRUCTION_FIELDS / RESPONSE_FIELDS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from .mix import DatasetSpec
from .tokenizer import Tokenizer

INSTRUCTION_FIELDS = ("instruction", "question", "prompt")
INPUT_FIELDS = ("input", "context", "system_prompt")
RESPONSE_FIELDS = ("output", "response", "completion", "answer")


def _first(row: dict, names: tuple[str, ...]) -> str | None:
    return next((str(row[n]) for n in names if row.get(n)), None)


def _pieces(row: dict[str, Any], tok: Tokenizer) -> list[tuple[str, bool]]:
    """An instruct row as (text, is_response) pieces."""
    messages = row.get("messages") or row.get("conversations")
    if messages:
        if getattr(tok, "has_chat_template", False):
            out, before = [], ""
            for i, msg in enumerate(messages):
                text = tok.render_chat(messages[: i + 1])
                out.append((text[len(before):], msg.get("role") == "assistant"))
                before = text
            return out
        return [
            (f"### {str(m.get('role', 'user')).title()}:\n{m.get('content', '')}\n\n",
             m.get("role") == "assistant")
            for m in messages
        ]
    q, a = _first(row, INSTRUCTION_FIELDS), _first(row, RESPONSE_FIELDS)
    if q is None or a is None:
        raise ValueError(
            f"instruct row has no {INSTRUCTION_FIELDS} / {RESPONSE_FIELDS} field (keys: {sorted(row)[:8]})"
        )
    extra = _first(row, INPUT_FIELDS)
    prompt = f"### Instruction:\n{q}" + (f"\n\n{extra}" if extra else "") + "\n\n### Response:\n"
    return [(prompt, False), (a, True)]


def encode_row(row: dict[str, Any], spec: DatasetSpec, tok: Tokenizer) -> tuple[list[int], list[int]]:
    """(ids, mask) of one document, EOS appended; mask 1 on the tokens that are scored."""
    if spec.phase == "pretrain":
        if spec.text_column not in row:
            raise ValueError(
                f"invalid config field 'text_column': {spec.text_column!r} is not in the rows of "
                f"{spec.path} (keys: {sorted(row)[:8]})"
            )
        ids = tok.encode(str(row[spec.text_column])) + [tok.eos_id]
        return ids, [1] * len(ids)
    ids, mask = [], []
    for text, scored in _pieces(row, tok):
        piece = tok.encode(text)
        ids += piece
        mask += [int(scored)] * len(piece)
    return ids + [tok.eos_id], mask + [1]


class PackedStream:
    """Endless windows (tokens [T + 1], mask [T + 1]) of one source, in a fixed order.

    rows_fn() starts a fresh pass over the source. `windows_served` counts windows handed out;
    `skip(n)` advances exactly as n calls of `next_window` would.
    """

    def __init__(
        self, rows_fn: Callable[[], Iterator[dict]], spec: DatasetSpec, tok: Tokenizer, seq_len: int
    ) -> None:
        self.rows_fn, self.spec, self.tok, self.seq_len = rows_fn, spec, tok, seq_len
        self._rows: Iterator[dict] = rows_fn()
        self._ids: list[int] = []
        self._mask: list[int] = []
        self.windows_served = 0
        self.epoch = 0
        self.epoch_rows = 0  # rows read in the current pass (0 at the end of a pass: empty source)

    def _fill(self, need: int) -> None:
        while len(self._ids) < need:
            row = next(self._rows, None)
            if row is None:
                if self.epoch_rows == 0:
                    raise ValueError(f"invalid config field 'path': {self.spec.path} yields no documents")
                self._rows, self.epoch, self.epoch_rows = self.rows_fn(), self.epoch + 1, 0
                continue
            self.epoch_rows += 1
            ids, mask = encode_row(row, self.spec, self.tok)
            self._ids += ids
            self._mask += mask

    def next_window(self) -> tuple[list[int], list[int]]:
        t = self.seq_len
        self._fill(t + 1)
        ids, mask = self._ids[: t + 1], self._mask[: t + 1]
        # stride T: the last token of this window is the first input of the next
        del self._ids[:t], self._mask[:t]
        self.windows_served += 1
        return ids, mask

    def skip(self, n: int) -> None:
        for _ in range(n):
            self.next_window()


def windows_to_batch(windows: list[tuple[list[int], list[int]]]):
    """[(ids [T+1], mask [T+1])] -> Batch(inputs [B, T], targets [B, T], mask [B, T] float)."""
    from ..task import Batch

    ids = torch.tensor([w[0] for w in windows], dtype=torch.long)
    mask = torch.tensor([w[1] for w in windows], dtype=torch.float32)
    return Batch(ids[:, :-1].contiguous(), ids[:, 1:].contiguous(), mask[:, 1:].contiguous())
