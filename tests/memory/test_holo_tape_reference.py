"""The fast MAP HoloTape equals a slow, obviously-correct reference on random and hostile input.

Reference: keep every fact's signs as float64, H = Σ sign(k) ⊙ sign(v), and score a query by the
textbook cosine cos(sign(q) ⊙ H, v_m) one stored value at a time.
"""

import pytest
import torch

from prismlm.memory.capacity import predicted_capacity
from prismlm.memory.holo_tape import LUT_MAX_QUERIES, HoloTape
from prismlm.ops.vsa import (
    map_bind_superpose,
    pack_bipolar,
    pack_bipolar_rows,
    packed_bipolar_scores,
    random_bipolar,
    unpack_bipolar_rows,
)

TOL = 1e-5  # fp32 scale of an exact integer score


class ReferenceTape:
    def __init__(self, dim):
        self.dim, self.facts = dim, []

    def bind_many(self, keys, values):
        sign = lambda x: torch.where(x.double() >= 0, 1.0, -1.0).double()  # noqa: E731
        self.facts += list(zip(sign(keys), sign(values), strict=True))

    def tape(self):
        h = torch.zeros(self.dim, dtype=torch.float64)
        for k, v in self.facts:
            h += k * v
        return h

    def scores(self, key):
        noisy = torch.where(key.double() >= 0, 1.0, -1.0) * self.tape()
        return torch.tensor([float(torch.nn.functional.cosine_similarity(noisy, v, dim=0))
                             for _, v in self.facts], dtype=torch.float64)  # fmt: skip


def assert_same_answers(tape, ref, queries, top_k=1, chunk=256):
    res = tape.query(queries, top_k=top_k, chunk=chunk)
    for q in range(queries.shape[0]):
        want = ref.scores(queries[q])
        best = want.topk(min(top_k, len(want))).values
        assert torch.allclose(res.scores[q].double(), best, atol=TOL)  # same ranked scores
        # the rows returned score what they claim (ties may be broken either way)
        assert torch.allclose(want[res.rows[q]], res.scores[q].double(), atol=TOL)


def make(n, d, seed, dtype=torch.int8):
    g = torch.Generator().manual_seed(seed)
    return random_bipolar(n, d, g).to(dtype), random_bipolar(n, d, g).to(dtype)


@pytest.mark.parametrize("cache", [True, False])
def test_random_facts_at_capacity_match_the_reference(cache):
    d = 1024
    n = predicted_capacity(d, 0.99)
    keys, values = make(n, d, 0)
    tape, ref = HoloTape(d, cache_codebook=cache), ReferenceTape(d)
    tape.bind_many(keys, values)
    ref.bind_many(keys, values)
    assert torch.equal(tape.tape.double(), ref.tape())
    assert torch.equal(tape.values(), values.float())
    assert_same_answers(tape, ref, keys[:40], top_k=3, chunk=16)  # matmul path, 3 blocks
    assert_same_answers(tape, ref, keys[:LUT_MAX_QUERIES])  # the lookup-table path when uncached


def test_hostile_int8_duplicates_and_absent_keys_match_the_reference():
    d = 512
    g = torch.Generator().manual_seed(1)
    keys = torch.randint(-128, 128, (60, d), generator=g, dtype=torch.int8)  # not ±1, zeros inside
    values = torch.randint(-3, 4, (60, d), generator=g, dtype=torch.int8)
    keys[10:20] = keys[0]  # one key bound to eleven values
    values[30:40] = values[5]  # one value under eleven keys
    keys[50], values[50] = keys[51], values[51]  # a fact bound twice
    tape, ref = HoloTape(d), ReferenceTape(d)
    tape.chunk = 16  # several registry chunks
    tape.bind_many(keys, values)
    ref.bind_many(keys, values)
    assert torch.equal(tape.tape.double(), ref.tape())
    absent = torch.randint(-5, 6, (4, d), generator=g, dtype=torch.int8)
    assert_same_answers(tape, ref, torch.cat([keys[:12], absent, absent.float()]), top_k=2)
    fp32 = HoloTape(d)  # the same facts given as floats: the same tape and registry
    fp32.bind_many(keys.float(), values.float())
    assert torch.equal(fp32.tape, tape.tape) and torch.equal(fp32.values(), tape.values())


def test_far_past_capacity_and_after_forgetting_the_reference_still_holds():
    d = 256
    keys, values = make(300, d, 2, torch.float32)
    tape, ref = HoloTape(d, cache_codebook=False), ReferenceTape(d)
    ids = tape.bind_many(keys, values)
    for i in ids[::3].tolist():
        tape.forget(i)
    kept = [i for i in range(300) if i % 3]
    ref.bind_many(keys[kept], values[kept])
    assert torch.equal(tape.tape.double(), ref.tape())
    assert sorted(tape.fact_ids().tolist()) == kept
    # rows were moved by forget: compare on the registry's own order
    order = tape.fact_ids()
    ref = ReferenceTape(d)
    ref.bind_many(keys[order], values[order])
    assert_same_answers(tape, ref, keys[:5])


def test_empty_tape_and_an_all_zero_int8_row():
    tape = HoloTape(64)
    res = tape.query(torch.ones(3, 64))
    assert torch.equal(res.fact_ids, torch.full((3, 1), -1))
    keys, values = make(10, 64, 3)
    keys[7] = 0
    with pytest.raises(ValueError, match="empty"):
        tape.bind_many(keys, values)
    assert len(tape) == 0 and not tape.tape.any()
    keys[7, 5] = 1  # one non-zero entry: a valid (mostly +1) key
    tape.bind_many(keys, values)
    assert len(tape) == 10


def test_packed_kernels_equal_their_dense_definitions():
    g = torch.Generator().manual_seed(4)
    x = torch.randint(-9, 10, (5, 64), generator=g, dtype=torch.int8)
    packed = pack_bipolar_rows(x)
    assert [bytes(r.tolist()) for r in packed] == [pack_bipolar(r.float()) for r in x]
    assert torch.equal(pack_bipolar_rows(x, torch.empty(8, 64, dtype=torch.bool)), packed)
    signs = torch.where(x >= 0, 1.0, -1.0)
    assert torch.equal(unpack_bipolar_rows(packed, 64), signs)
    k, v = x, torch.randint(-9, 10, (5, 64), generator=g, dtype=torch.int8)
    dense = (signs * torch.where(v >= 0, 1.0, -1.0)).sum(0)
    assert torch.equal(map_bind_superpose(k, v), dense)
    q = torch.randint(-50, 50, (3, 64), generator=g).float()
    assert torch.equal(packed_bipolar_scores(q, packed), q @ signs.T)
