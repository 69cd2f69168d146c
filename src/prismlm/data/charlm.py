"""Character-level language modelling corpora and the BPC task (spec §4).

Corpora are read from an explicit path, an environment variable, or a cache directory
(`PRISMLM_DATA_DIR`, default `~/.cache/prismlm`); nothing is downloaded unless
`download_corpus` is called. Splits are contiguous:
    tinyshakespeare  90% / 5% / 5%            vocabulary: its 65 characters
    text8            90M / 5M / 5M chars      (split "prizma": first 11M as 10M / 0.5M / 0.5M)
    enwik8           90M / 5M / 5M bytes      vocabulary: the bytes that occur
BPC = sum of cross-entropy in nats over predicted characters / (count · ln 2).
"""

from __future__ import annotations

import math
import os
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import require
from .task import Batch

CORPORA = {
    "tinyshakespeare": (
        "tinyshakespeare.txt",
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    ),
    "text8": ("text8", "http://mattmahoney.net/dc/text8.zip"),
    "enwik8": ("enwik8", "http://mattmahoney.net/dc/enwik8.zip"),
}
ENV_PATHS = {
    "tinyshakespeare": "PRISMLM_TINYSHAKESPEARE",
    "text8": "PRISMLM_TEXT8",
    "enwik8": "PRISMLM_ENWIK8",
}


def data_dir() -> Path:
    return Path(os.environ.get("PRISMLM_DATA_DIR", Path.home() / ".cache" / "prismlm"))


def find_corpus(name: str, path: str | os.PathLike | None = None) -> Path:
    """Locate a corpus file: explicit path, then its environment variable, then the cache dir."""
    require(name in CORPORA, "corpus", f"unknown corpus {name!r}; known: {sorted(CORPORA)}")
    candidates = [Path(path)] if path else []
    if os.environ.get(ENV_PATHS[name]):
        candidates.append(Path(os.environ[ENV_PATHS[name]]))
    candidates.append(data_dir() / CORPORA[name][0])
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"corpus {name!r} not found (looked at {[str(c) for c in candidates]}); set "
        f"{ENV_PATHS[name]} or PRISMLM_DATA_DIR, or call "
        f"prismlm.data.charlm.download_corpus({name!r}) while online"
    )


def download_corpus(name: str, directory: Path | None = None) -> Path:
    """Fetch a corpus into the cache directory (needs network; never called by the tests)."""
    require(name in CORPORA, "corpus", f"unknown corpus {name!r}; known: {sorted(CORPORA)}")
    directory = Path(directory or data_dir())
    directory.mkdir(parents=True, exist_ok=True)
    filename, url = CORPORA[name]
    target = directory / filename
    if target.is_file():
        return target
    tmp = directory / (Path(url).name + ".part")
    urllib.request.urlretrieve(url, tmp)  # noqa: S310 - fixed, well-known corpus URLs
    if url.endswith(".zip"):
        with zipfile.ZipFile(tmp) as zf:
            zf.extract(filename, directory)
        tmp.unlink()
    else:
        tmp.replace(target)
    return target


@dataclass
class CharCorpus:
    """A corpus as int64 ids with its vocabulary and contiguous train/val/test splits."""

    name: str
    vocab: list[str]
    splits: dict[str, torch.Tensor] = field(repr=False)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.vocab)}
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor) -> str:
        return "".join(self.vocab[int(i)] for i in ids)


def _split(ids: torch.Tensor, sizes: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    a, b, c = sizes
    return {"train": ids[:a], "val": ids[a : a + b], "test": ids[a + b : a + b + c]}


def load_corpus(name: str, path: str | os.PathLike | None = None, split: str = "standard") -> CharCorpus:
    """Read and split a corpus. split: "standard", or "prizma" for text8's 11M-char variant."""
    file = find_corpus(name, path)
    raw = file.read_bytes()
    if name == "enwik8":
        vocab_bytes = sorted(set(raw))
        lut = torch.full((256,), -1, dtype=torch.long)
        lut[torch.tensor(vocab_bytes)] = torch.arange(len(vocab_bytes))
        ids = lut[torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()]
        vocab = [chr(b) for b in vocab_bytes]
        n = len(ids)
        sizes = (n - 10_000_000, 5_000_000, 5_000_000) if n > 20_000_000 else _frac(n)
        return CharCorpus(name, vocab, _split(ids, sizes))
    text = raw.decode("utf-8")
    if name == "text8" and split == "prizma":
        text = text[:11_000_000]
    vocab = sorted(set(text))
    lut = torch.zeros(max(map(ord, vocab)) + 1, dtype=torch.long)
    lut[torch.tensor([ord(c) for c in vocab])] = torch.arange(len(vocab))
    ids = lut[torch.tensor(list(map(ord, text)), dtype=torch.long)]
    n = len(ids)
    if name == "text8" and split == "prizma":
        sizes = (10_000_000, 500_000, 500_000) if n >= 11_000_000 else _frac(n)
    elif name == "text8" and n >= 100_000_000:
        sizes = (90_000_000, 5_000_000, 5_000_000)
    else:
        sizes = _frac(n)
    return CharCorpus(name, vocab, _split(ids, sizes))


def _frac(n: int) -> tuple[int, int, int]:
    train = int(0.9 * n)
    val = (n - train) // 2
    return train, val, n - train - val


def random_windows(ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:
    """B random windows: x = ids[s : s+T], y = ids[s+1 : s+T+1]; every position scored."""
    starts = torch.randint(0, len(ids) - seq_len - 1, (batch_size,), generator=generator)
    offsets = torch.arange(seq_len + 1)
    win = ids[starts[:, None] + offsets]
    return Batch(win[:, :-1], win[:, 1:], torch.ones(batch_size, seq_len))


@dataclass
class CharLM:
    """Next-character prediction on a corpus: training windows from "train", eval from "val"."""

    corpus: str = "tinyshakespeare"
    seq_len: int = 256
    path: str | None = None
    split: str = "standard"

    def __post_init__(self) -> None:
        require(self.seq_len >= 2, "seq_len", f"must be >= 2, got {self.seq_len}")
        require(self.split in ("standard", "prizma"), "split", "must be 'standard' or 'prizma'")
        self.data = load_corpus(self.corpus, self.path, self.split)
        for name, ids in self.data.splits.items():
            require(
                len(ids) > self.seq_len + 1,
                "seq_len",
                f"{self.seq_len} is longer than the {name} split ({len(ids)} chars)",
            )

    @property
    def vocab_size(self) -> int:
        return self.data.vocab_size

    @property
    def max_seq_len(self) -> int:
        return self.seq_len

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return random_windows(self.data.splits["train"], batch_size, self.seq_len, generator)

    def eval_sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return random_windows(self.data.splits["val"], batch_size, self.seq_len, generator)

    def split_batches(self, split: str, n_batches: int, batch_size: int, seed: int = 12345) -> list[Batch]:
        """A fixed set of windows from `split` (the same windows for every model)."""
        gen = torch.Generator().manual_seed(seed)
        ids = self.data.splits[split]
        return [random_windows(ids, batch_size, self.seq_len, gen) for _ in range(n_batches)]


def bpc(ce_nats_sum: float, count: int) -> float:
    """Bits per character from a summed cross-entropy in nats."""
    return ce_nats_sum / (count * math.log(2))
