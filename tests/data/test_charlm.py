import hashlib
import io
import math
import os
import zipfile
from dataclasses import replace

import pytest
import torch

from prismlm.data import charlm
from prismlm.data.charlm import CORPORA, CharLM, Source, bpc, download_corpus, find_corpus

SHAKESPEARE = os.environ.get("PRISMLM_TINYSHAKESPEARE")
needs_corpus = pytest.mark.skipif(
    not SHAKESPEARE or not os.path.isfile(SHAKESPEARE),
    reason="set PRISMLM_TINYSHAKESPEARE to ../shared/data/tinyshakespeare.txt (make test does)",
)


@needs_corpus
def test_tinyshakespeare_splits_vocab_and_windows():
    task = CharLM(corpus="tinyshakespeare", seq_len=32)
    sizes = {k: len(v) for k, v in task.data.splits.items()}
    assert task.vocab_size == 65
    total = sum(sizes.values())
    assert sizes["train"] == int(0.9 * total) and abs(sizes["val"] - sizes["test"]) <= 1
    b = task.sample(4, torch.Generator().manual_seed(0))
    assert torch.equal(b.inputs[:, 1:], b.targets[:, :-1]) and b.mask.all()
    assert task.data.decode(task.data.encode("First Citizen")) == "First Citizen"


def test_missing_corpus_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.delenv("PRISMLM_TEXT8", raising=False)
    monkeypatch.setenv("PRISMLM_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="PRISMLM_TEXT8"):
        find_corpus("text8")


def test_corpus_is_found_in_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("PRISMLM_TEXT8", raising=False)
    monkeypatch.setenv("PRISMLM_DATA_DIR", str(tmp_path))
    (tmp_path / "text8").write_text("ab cd " * 2000)
    task = CharLM(corpus="text8", seq_len=16)
    assert task.vocab_size == 5


def test_bpc_of_uniform_prediction_is_log2_vocab():
    assert bpc(100 * math.log(27), 100) == pytest.approx(math.log2(27))


# --- download_corpus: https, pinned sha256, temporary names, nothing half-made ----------------


class _FakeNet:
    """Stands in for urlopen: serves `payload` (cut to `limit` bytes) and records the URLs."""

    def __init__(self, payload: bytes, limit: int | None = None, broken: bool = False) -> None:
        self.payload, self.limit, self.broken, self.urls = payload, limit, broken, []

    def __call__(self, url):
        self.urls.append(url)
        return _Broken() if self.broken else io.BytesIO(self.payload[: self.limit])


def _zip_of(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, data)
    return buf.getvalue()


@pytest.fixture
def small_text8(monkeypatch):
    """text8's entry replaced by a 3 kB zipped corpus with its true digest pinned."""
    data = b"ab cd " * 500
    archive = _zip_of("text8", data)
    source = Source("text8", "https://example.org/text8.zip", hashlib.sha256(archive).hexdigest(),
                    len(data), "text8")
    monkeypatch.setitem(CORPORA, "text8", source)
    return archive, data


def test_a_verified_zip_download_is_extracted_under_its_final_name_only(tmp_path, monkeypatch, small_text8):
    archive, data = small_text8
    net = _FakeNet(archive)
    monkeypatch.setattr(charlm, "_open", net)
    path = download_corpus("text8", tmp_path)
    assert path == tmp_path / "text8" and path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["text8"]  # no archive, no temp file
    assert download_corpus("text8", tmp_path) == path and len(net.urls) == 1  # verified: not refetched


@pytest.mark.parametrize("bad", ["wrong digest", "truncated download", "truncated member", "network error"])
def test_a_bad_download_is_rejected_and_leaves_nothing_behind(tmp_path, monkeypatch, small_text8, bad):
    archive, data = small_text8
    if bad == "wrong digest":
        monkeypatch.setitem(CORPORA, "text8", replace(CORPORA["text8"], sha256="0" * 64))
    if bad == "truncated member":  # the archive verifies, but its member is shorter than pinned
        monkeypatch.setitem(CORPORA, "text8", replace(CORPORA["text8"], size=len(data) + 1))
    limit = len(archive) // 2 if bad == "truncated download" else None
    monkeypatch.setattr(charlm, "_open", _FakeNet(archive, limit, broken=bad == "network error"))
    with pytest.raises((ValueError, OSError), match="sha256|bytes, expected|connection reset"):
        download_corpus("text8", tmp_path)
    assert list(tmp_path.iterdir()) == []


class _Broken(io.BytesIO):
    def read(self, n=-1):
        raise ConnectionResetError("connection reset mid-download")


def test_a_truncated_file_left_by_an_old_version_is_fetched_again(tmp_path, monkeypatch, small_text8):
    archive, data = small_text8
    (tmp_path / "text8").write_bytes(data[:100])  # what a kill during the old extraction left
    monkeypatch.setattr(charlm, "_open", _FakeNet(archive))
    assert download_corpus("text8", tmp_path).read_bytes() == data


def test_an_unpinned_corpus_is_refused_without_touching_the_network(tmp_path, monkeypatch):
    def no_network(url):
        raise AssertionError("must not download an unverifiable corpus")

    monkeypatch.setattr(charlm, "_open", no_network)
    assert CORPORA["enwik8"].sha256 is None  # not pinned in the code: see charlm.CORPORA
    with pytest.raises(ValueError, match="'sha256'.*no pinned sha256"):
        download_corpus("enwik8", tmp_path)
    with pytest.raises(ValueError, match="64 hex digits"):
        download_corpus("enwik8", tmp_path, sha256="abc")


def test_only_https_sources_exist():
    assert all(s.url.startswith("https://") for s in CORPORA.values())
    with pytest.raises(ValueError, match="'url'"):
        Source("x", "http://example.org/x", None, 1)


@needs_corpus
def test_the_pinned_tinyshakespeare_digest_accepts_the_real_file(tmp_path, monkeypatch):
    real = open(SHAKESPEARE, "rb").read()
    monkeypatch.setattr(charlm, "_open", _FakeNet(real))
    assert download_corpus("tinyshakespeare", tmp_path).read_bytes() == real
    monkeypatch.setattr(charlm, "_open", _FakeNet(real[:-1]))  # one byte short
    with pytest.raises(ValueError, match="sha256"):
        download_corpus("tinyshakespeare", tmp_path / "again")
