"""Tokenizers for the token pipeline: a byte-level one built in, and Hugging Face ones if installed.

    tok = load_tokenizer("bytes")              # offline, always available
    tok = load_tokenizer("path/tokenizer.json") # `tokenizers` (local file)
    tok = load_tokenizer("gpt2")                # `transformers` AutoTokenizer (hub or local cache)

Every tokenizer has `encode(text) -> list[int]` (no special tokens), `eos_id`, `vocab_size`
(ids are < vocab_size) and `chat_template(messages) -> (text pieces, is-response flags)` or None
when it has no chat template. Model vocabularies are `padded_vocab(tok.vocab_size)`: rounded up
to a multiple of 64 (matmul-friendly; the extra rows are never targets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ...config import require

VOCAB_MULTIPLE = 64


def padded_vocab(n: int, multiple: int = VOCAB_MULTIPLE) -> int:
    """n rounded up to a multiple of `multiple`."""
    require(n >= 1, "vocab_size", f"must be >= 1, got {n}")
    return -(-n // multiple) * multiple


class Tokenizer(Protocol):
    eos_id: int
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes 0..255, EOS = 256: vocab 257 (a model pads it to 320)."""

    eos_id = 256
    vocab_size = 257
    name = "bytes"
    has_chat_template = False

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


class HFTokenizer:
    """A `tokenizers.Tokenizer` or a `transformers` tokenizer behind the same interface.

    EOS: the tokenizer's eos token (transformers), else "<|endoftext|>" or "</s>" if in the vocab.
    """

    def __init__(self, tok, name: str) -> None:
        self.tok, self.name = tok, name
        self.is_transformers = hasattr(tok, "apply_chat_template")
        if self.is_transformers:
            self.vocab_size = len(tok)
            eos = tok.eos_token_id
        else:
            self.vocab_size = tok.get_vocab_size(with_added_tokens=True)
            eos = next(
                (tok.token_to_id(t) for t in ("<|endoftext|>", "</s>", "<eos>")
                 if tok.token_to_id(t) is not None),
                None,
            )
        require(eos is not None, "tokenizer", f"{name!r} has no end-of-sequence token")
        self.eos_id = int(eos)
        self.has_chat_template = bool(self.is_transformers and getattr(tok, "chat_template", None))

    def encode(self, text: str) -> list[int]:
        if self.is_transformers:
            return list(self.tok.encode(text, add_special_tokens=False))
        return list(self.tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids)

    def render_chat(self, messages: list[dict]) -> str:
        """The chat template applied to `messages` (text, not ids)."""
        return self.tok.apply_chat_template(messages, tokenize=False)


def load_tokenizer(spec: str = "bytes") -> Tokenizer:
    """"bytes" (built in); a `tokenizer.json` file (needs `tokenizers`); anything else is given
    to `transformers.AutoTokenizer.from_pretrained` (a local folder, or the hub when online)."""
    if spec == "bytes":
        return ByteTokenizer()
    path = Path(spec)
    if path.suffix == ".json" and path.is_file():
        try:
            from tokenizers import Tokenizer as RawTokenizer
        except ImportError as err:
            raise ValueError(
                f"tokenizer {spec!r}: reading tokenizer.json needs `pip install tokenizers`"
            ) from err
        return HFTokenizer(RawTokenizer.from_file(str(path)), spec)
    try:
        from transformers import AutoTokenizer
    except ImportError as err:
        raise ValueError(
            f"tokenizer {spec!r}: needs `pip install transformers` (or use 'bytes' or a tokenizer.json)"
        ) from err
    return HFTokenizer(AutoTokenizer.from_pretrained(spec), spec)
