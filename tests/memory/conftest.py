"""The memory tests run the lexical retriever (BM25) unless a test asks for the sentence encoder
itself: loading all-MiniLM-L6-v2 takes seconds per process, and what these tests specify (the
store, ingest, answer spans, provenance) does not depend on which retriever ranks the sentences."""

import pytest

from prismlm.memory.prose import ENV_ENCODER


@pytest.fixture(autouse=True)
def _lexical_by_default(monkeypatch):
    monkeypatch.setenv(ENV_ENCODER, "lexical")  # inherited by the subprocesses the tests start
