"""The MAP bind path (sign masks packed and compared chunk by chunk) equals its definition.

Definition: H = Σ_i sign(k_i) ⊙ sign(v_i) in float64 (sign(0) = +1), and registry row i holds
`pack_bipolar(k_i)` / `pack_bipolar(v_i)`, one vector at a time. Checked on random and hostile
inputs, for chunk sizes that split the batch unevenly, cap at the uint8 count limit, or exceed it.
"""

import pytest
import torch

from prismlm.memory.holo_tape import HoloTape
from prismlm.ops.vsa import pack_bipolar, random_bipolar


def reference(keys, values):
    sign = lambda x: torch.where(x.double() >= 0, 1.0, -1.0)  # noqa: E731
    tape = (sign(keys) * sign(values)).sum(0)
    rows = lambda x: [pack_bipolar(r.float()) for r in x]  # noqa: E731
    return tape, rows(keys), rows(values)


def registry(tape):
    n = len(tape)
    return [bytes(r.tolist()) for r in tape._keys[:n]], [bytes(r.tolist()) for r in tape._values[:n]]


def hostile(n, d, seed):
    """int8 over the full range (−128, 0 and +127 included), rows of all +1 (the empty-row screen's
    candidates) and all −1, a key bound to many values, a fact bound twice."""
    g = torch.Generator().manual_seed(seed)
    keys = torch.randint(-128, 128, (n, d), generator=g, dtype=torch.int8)
    values = torch.randint(-2, 3, (n, d), generator=g, dtype=torch.int8)
    keys[1], values[2], keys[3], values[3] = 1, 127, -1, -128
    keys[4, :] = 0
    keys[4, -1] = 5  # one non-zero entry: valid, all +1
    keys[5:9] = keys[0]
    keys[n - 1], values[n - 1] = keys[n - 2], values[n - 2]
    return keys, values


def fp32_edges(n, d, seed):
    """fp32 with ±0.0 (both +1), subnormals, huge magnitudes and a non-contiguous layout."""
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(n, 2 * d, generator=g)[:, ::2]  # strided view
    values = torch.randn(n, d, generator=g) * 1e30
    keys[0, : d // 2], keys[0, d // 2 : -1] = -0.0, 0.0  # the last entry keeps the row non-empty
    keys[1] = 1e-45
    values[1] = -1e-45
    return keys, values


def random_int8(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    return random_bipolar(n, d, g).to(torch.int8), random_bipolar(n, d, g).to(torch.int8)


def all_disagree(n, d, seed):
    """Every product −1: each column's count of negative products is n (a uint8 count over
    more than 255 rows would wrap)."""
    return torch.ones(n, d, dtype=torch.int8), -torch.ones(n, d, dtype=torch.int8)


CASES = {"random int8": random_int8, "hostile int8": hostile, "fp32 edges": fp32_edges,
         "all disagree": all_disagree}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("chunk", [1, 7, 64, 255, 300])
@pytest.mark.parametrize(("n", "d"), [(1, 64), (263, 72), (600, 512)])
def test_bind_many_equals_the_definition(case, chunk, n, d):
    if n < 10 and case in ("hostile int8", "fp32 edges"):
        pytest.skip("the hostile rows need a batch of at least 10")
    keys, values = CASES[case](n, d, seed=n)
    tape = HoloTape(d)
    tape.chunk = chunk
    tape.bind_many(keys, values)
    want, want_k, want_v = reference(keys, values)
    assert torch.equal(tape.tape.double(), want)
    assert registry(tape) == (want_k, want_v)


def test_batches_appended_to_a_tape_equal_one_batch():
    keys, values = hostile(300, 128, 4)
    split, whole = HoloTape(128), HoloTape(128)
    split.chunk = 32
    for s, e in ((0, 1), (1, 100), (100, 230), (230, 300)):  # the registry grows in between
        split.bind_many(keys[s:e], values[s:e])
    whole.bind_many(keys, values)
    assert torch.equal(split.tape, whole.tape) and registry(split) == registry(whole)


@pytest.mark.parametrize("d", [64, 72])  # packed width a multiple of 8 bytes, and not
@pytest.mark.parametrize("which", ["keys", "values"])
def test_an_empty_int8_row_in_a_late_chunk_stores_nothing(d, which):
    keys, values = hostile(200, d, 5)
    tape = HoloTape(d)
    tape.chunk = 16
    tape.bind_many(keys[:20], values[:20])
    before, reg = tape.tape.clone(), registry(tape)
    bad = {"keys": keys[20:].clone(), "values": values[20:].clone()}
    bad[which][170] = 0
    with pytest.raises(ValueError, match=f"{which} contains an all-zero"):
        tape.bind_many(bad["keys"], bad["values"])
    assert torch.equal(tape.tape, before) and registry(tape) == reg and len(tape) == 20
    tape.bind_many(keys[20:], values[20:])  # the rows the failed batch wrote are overwritten
    want, want_k, want_v = reference(keys, values)
    assert torch.equal(tape.tape.double(), want) and registry(tape) == (want_k, want_v)


def _poisoned(kind, dtype, d):
    x = random_int8(40, d, 6)[0].to(dtype)
    row = 33  # a late row: one bad entry among many good ones
    if kind == "nan":
        x[row, d // 2] = float("nan")
    elif kind in ("+inf", "-inf"):
        x[row, -1] = float(kind)
    elif kind == "zero row":
        x[row] = 0
    elif kind == "-0.0 row":
        x[row] = -0.0
    elif kind == "one subnormal":
        x[row] = 0
        x[row, 3] = 1e-45  # non-zero: valid
    return x


@pytest.mark.parametrize("d", [64, 72])
@pytest.mark.parametrize(
    ("kind", "dtype"),
    [("nan", torch.float32), ("+inf", torch.float32), ("-inf", torch.float32), ("zero row", torch.float32),
     ("-0.0 row", torch.float32), ("one subnormal", torch.float32), ("zero row", torch.int8),
     ("zero row", torch.float64), ("clean", torch.int8), ("clean", torch.float32)],
)  # fmt: skip
def test_validation_rejects_exactly_what_the_definition_rejects(kind, dtype, d):
    """Definition: every entry finite, every row with a non-zero entry; checked for a query and
    for either side of a bind."""
    x = _poisoned(kind, dtype, d)
    finite = bool(torch.isfinite(x.double()).all())
    nonzero = all(any(float(e) != 0 for e in r) for r in x.double())
    ok = torch.ones(40, d)
    tape = HoloTape(d)
    tape.bind_many(ok, ok)
    for call in (lambda: tape.query(x), lambda: tape.bind_many(x, ok), lambda: tape.bind_many(ok, x)):
        if finite and nonzero:
            call()
        else:
            with pytest.raises(ValueError, match="NaN or inf" if not finite else "all-zero"):
                call()
