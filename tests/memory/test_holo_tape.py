"""HoloTape: bind / query / forget, capacity report, bad input."""

import pytest
import torch

from prismlm.memory.capacity import (
    asymptotic_capacity,
    predicted_accuracy,
    predicted_capacity,
    reference_capacity,
    reference_capacity_limit,
)
from prismlm.memory.holo_tape import HoloTape
from prismlm.ops.vsa import random_bipolar, random_hrr


def test_200_random_facts_at_spec_dimension_are_retrieved_perfectly():
    g = torch.Generator().manual_seed(0)
    keys, values = random_bipolar(200, 8192, g), random_bipolar(200, 8192, g)
    tape = HoloTape(8192)
    ids = tape.bind_many(keys, values)
    res = tape.query(keys)
    assert torch.equal(res.fact_ids[:, 0], ids)


def test_hrr_tape_retrieves_facts():
    g = torch.Generator().manual_seed(1)
    keys, values = random_hrr(100, 4096, g), random_hrr(100, 4096, g)
    tape = HoloTape(4096, algebra="hrr")
    ids = tape.bind_many(keys, values)
    assert torch.equal(tape.query(keys).fact_ids[:, 0], ids)


def test_query_scores_equal_cosine_of_unbound_vector_with_value():
    g = torch.Generator().manual_seed(2)
    keys, values = random_bipolar(20, 512, g), random_bipolar(20, 512, g)
    tape = HoloTape(512)
    tape.bind_many(keys, values)
    res = tape.query(keys[:3])
    noisy = tape.unbind(keys[:3])
    cos = torch.nn.functional.cosine_similarity(noisy, values[res.rows[:, 0]], dim=-1)
    assert torch.allclose(res.scores[:, 0], cos, atol=1e-5)


def test_forget_removes_exactly_one_fact():
    g = torch.Generator().manual_seed(3)
    keys, values = random_bipolar(10, 1024, g), random_bipolar(10, 1024, g)
    tape = HoloTape(1024)
    tape.bind_many(keys[:9], values[:9])
    before = tape.tape.clone()
    fid = tape.bind(keys[9], values[9])
    tape.forget(fid)
    assert torch.equal(tape.tape, before) and len(tape) == 9
    tape.forget(0)
    assert 0 not in tape.fact_ids().tolist()
    assert torch.equal(tape.query(keys[1:9]).fact_ids[:, 0], torch.arange(1, 9))


def test_bad_input_is_rejected_and_loses_nothing():
    g = torch.Generator().manual_seed(4)
    keys, values = random_bipolar(5, 256, g), random_bipolar(5, 256, g)
    tape = HoloTape(256)
    tape.bind_many(keys, values)
    snapshot = tape.tape.clone()
    bad_batch = torch.cat([random_bipolar(100, 256, g), torch.zeros(1, 256)])
    with pytest.raises(ValueError, match="empty"):
        tape.bind_many(bad_batch, random_bipolar(101, 256, g))
    with pytest.raises(ValueError, match="dimension"):
        tape.bind(torch.ones(128), torch.ones(128))
    with pytest.raises(ValueError, match="NaN"):
        tape.bind(torch.full((256,), float("nan")), values[0])
    with pytest.raises(KeyError, match="not stored"):
        tape.forget(12345)
    with pytest.raises(ValueError, match="already stored"):
        tape.bind(keys[0], values[0], fact_id=0)
    assert torch.equal(tape.tape, snapshot) and len(tape) == 5
    assert torch.equal(tape.query(keys).fact_ids[:, 0], torch.arange(5))


def test_capacity_theory_is_consistent():
    assert 600 < asymptotic_capacity(8192) < 660  # N = d / (2 ln N)
    assert predicted_accuracy(8192, 200) > 0.99
    assert predicted_accuracy(1024, 500) < 0.1
    assert predicted_capacity(4096) < predicted_capacity(8192) < asymptotic_capacity(8192)
    n_ref = reference_capacity_limit(8192)  # the reference's N = d / (8 log2 N), solved
    assert reference_capacity(8192, n_ref) == pytest.approx(n_ref) and n_ref < predicted_capacity(8192)


def test_capacity_report_tracks_the_facts_bound():
    g = torch.Generator().manual_seed(5)
    tape = HoloTape(1024)
    tape.bind_many(random_bipolar(40, 1024, g), random_bipolar(40, 1024, g))
    rep = tape.capacity()
    assert rep["n_facts"] == 40
    assert rep["load"] == pytest.approx(40 / asymptotic_capacity(1024))
    assert rep["predicted_accuracy"] == pytest.approx(predicted_accuracy(1024, 40))
    assert rep["expected_cosine"] == pytest.approx(40**-0.5)
