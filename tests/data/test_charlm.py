import math
import os

import pytest
import torch

from prismlm.data.charlm import CharLM, bpc, find_corpus

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
