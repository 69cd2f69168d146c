"""Character-level language modelling corpora and the BPC task (spec §4).

Corpora are read from an explicit path, an environment variable, or a cache directory
(`PRISMLM_DATA_DIR`, default `~/.cache/prismlm`); nothing is downloaded unless
`download_corpus` is called, and it accepts only an https download whose sha256 matches a
pinned digest (see `Source`). Splits are contiguous:
    tinyshakespeare  90% / 5% / 5%            vocabulary: its 65 characters
    text8            90M / 5M / 5M chars      (split "prizma": first 11M as 10M / 0.5M / 0.5M)
    enwik8           90M / 5M / 5M bytes      vocabulary: the bytes that occur
BPC = sum of cross-entropy in nats over predicted characters / (count · ln 2).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import require
from .task import Batch


@dataclass(frozen=True)
class Source:
    """Where a corpus comes from and how a download of it is verified.

    sha256: hex digest of the downloaded object (the zip for text8/enwik8). None means it is not
    pinned in this code; `download_corpus` then refuses unless the caller supplies a digest.
    size: bytes of the final corpus file. member: the file inside the zip, if the URL is one.
    """

    filename: str
    url: str
    sha256: str | None
    size: int
    member: str | None = None

    def __post_init__(self) -> None:
        require(self.url.startswith("https://"), "url", f"corpora come over https only, got {self.url}")


CORPORA = {
    # digest computed from a local copy (1,115,394 bytes) and matching several public pins
    "tinyshakespeare": Source(
        "tinyshakespeare.txt",
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        1_115_394,
    ),
    # text8 and enwik8 are 10^8 bytes by definition; their zips' digests could not be verified
    # offline when this was written, so they are left unpinned rather than guessed
    "text8": Source("text8", "https://mattmahoney.net/dc/text8.zip", None, 100_000_000, "text8"),
    "enwik8": Source("enwik8", "https://mattmahoney.net/dc/enwik8.zip", None, 100_000_000, "enwik8"),
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
    candidates.append(data_dir() / CORPORA[name].filename)
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"corpus {name!r} not found (looked at {[str(c) for c in candidates]}); set "
        f"{ENV_PATHS[name]} or PRISMLM_DATA_DIR, or call "
        f"prismlm.data.charlm.download_corpus({name!r}) while online"
    )


def _open(url: str):
    """The network fetch (a seam the tests replace with a local fake)."""
    return urllib.request.urlopen(url, timeout=60)  # noqa: S310 - https-only, pinned corpora


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(path: Path, source: Source, sha256: str) -> bool:
    """An existing corpus file is trusted only at its exact size (and digest, if not zipped)."""
    if not path.is_file() or path.stat().st_size != source.size:
        return False
    return source.member is not None or _sha256_file(path) == sha256


def download_corpus(name: str, directory: Path | None = None, sha256: str | None = None) -> Path:
    """Fetch a corpus over https into the cache directory and return its path (needs network).

    The download is hashed while it streams to a temporary file and must match the pinned
    sha256 (or `sha256` when given: required for corpora whose digest is not pinned here); a zip
    member is extracted to another temporary file and must have the expected size. Only then is
    it renamed to its final name, so a failed, truncated or tampered download leaves nothing
    behind, and a damaged file left by an older version is fetched again instead of used.
    """
    require(name in CORPORA, "corpus", f"unknown corpus {name!r}; known: {sorted(CORPORA)}")
    source = CORPORA[name]
    digest = (sha256 or source.sha256 or "").lower()
    require(
        bool(digest),
        "sha256",
        f"no pinned sha256 for {name!r} ({source.url}); check its digest from a trusted source and "
        "pass download_corpus(..., sha256=...)",
    )
    require(re.fullmatch(r"[0-9a-f]{64}", digest) is not None, "sha256", "must be 64 hex digits")
    directory = Path(directory or data_dir())
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / source.filename
    if _verified(target, source, digest):
        return target
    for stale in directory.glob(f".{source.filename}.*.part"):  # left by a killed download
        stale.unlink(missing_ok=True)
    temps: list[Path] = []

    def temp(kind: str) -> Path:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{source.filename}.{kind}.", suffix=".part")
        os.close(fd)
        temps.append(Path(tmp))
        return temps[-1]

    try:
        fetched, hasher = temp("download"), hashlib.sha256()
        with _open(source.url) as response, fetched.open("wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest:
            raise ValueError(
                f"download of {name!r} from {source.url} failed verification: sha256 "
                f"{hasher.hexdigest()} != expected {digest} (truncated, or not the corpus)"
            )
        final = fetched
        if source.member is not None:
            final = temp("extract")
            with zipfile.ZipFile(fetched) as zf, zf.open(source.member) as src, final.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        size = final.stat().st_size
        if size != source.size:
            raise ValueError(f"{name!r} from {source.url} has {size} bytes, expected {source.size}")
        os.replace(final, target)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
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
