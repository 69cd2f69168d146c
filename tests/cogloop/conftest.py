"""The cogloop tests run the lexical retriever (BM25): no sentence-encoder model loads, in this
process or in the subprocesses the tests start (they inherit the environment)."""

import pytest
import torch

from prismlm.cogloop import LongTermMemory
from prismlm.memory.prose import ENV_ENCODER
from prismlm.models import PrismConfig, PrismLM


@pytest.fixture(autouse=True)
def _lexical_by_default(monkeypatch):
    monkeypatch.setenv(ENV_ENCODER, "lexical")


@pytest.fixture
def ltm_path(tmp_path):
    return tmp_path / "profile.sqlite"


@pytest.fixture
def ltm(ltm_path):
    with LongTermMemory(ltm_path, encoder="lexical") as m:
        yield m


@pytest.fixture
def tiny_prism():
    torch.manual_seed(0)
    cfg = PrismConfig(vocab_size=256, d_model=16, n_layers=2, num_rates=2, d_mem=8, num_slots=4)
    return PrismLM(cfg).eval()
