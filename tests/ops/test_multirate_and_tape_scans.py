"""Multi-rate scan and tape scan: every form (parallel, step, recurrent) equals a float64
evaluation of the recurrence on outputs and every gradient, within `numerics.TOLERANCE` of its
input dtype; NaNs stay causal; T = 0 is empty.
"""

import math

import pytest
import torch

from prismlm.ops.multirate_scan import (
    log_spaced_rates,
    multirate_scan_chunked,
    multirate_scan_recurrent,
    multirate_scan_step,
)
from prismlm.ops.numerics import TOLERANCE, max_relative_error
from prismlm.ops.tape_scan import tape_scan, tape_scan_recurrent, tape_step, write_maps

FASTEST = torch.tensor([math.log(256.0)])
DTYPES = [torch.float32, torch.bfloat16, torch.float16]
IDS = ["fp32", "bf16", "fp16"]


def grads_of(fn, inputs, weight):
    leaves = [x.detach().clone().requires_grad_() for x in inputs]
    out = fn(*leaves)
    return out, torch.autograd.grad((out.double() * weight).sum(), leaves)


def assert_matches(out, grads, ref, ref_grads, dtype, form):
    tol = TOLERANCE[dtype]
    assert out.dtype == dtype, form
    assert max_relative_error(out, ref) < tol, f"{form}: outputs"
    for i, (g, g_ref) in enumerate(zip(grads, ref_grads, strict=True)):
        assert max_relative_error(g, g_ref) < tol, f"{form}: gradient {i}"


# ------------------------------------------------------------------------- multi-rate scan
def multirate_steps(z, h0, rates):
    h, out = h0, []
    for z_t in z.unbind(1):
        h = multirate_scan_step(z_t, h, rates)
        out.append(h)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("t,chunk", [(1, 16), (37, 8), (80, 16)])
@pytest.mark.parametrize("num_rates", [1, 4])
def test_every_multirate_form_matches_the_float64_recurrence(dtype, t, chunk, num_rates):
    rates = log_spaced_rates(num_rates)
    g = torch.Generator().manual_seed(t)
    z = torch.randn(2, t, 2 * num_rates, generator=g, dtype=torch.float64).to(dtype)
    h0 = torch.randn(2, 2 * num_rates, generator=g, dtype=torch.float64).to(dtype)
    weight = torch.randn(2, t, 2 * num_rates, generator=g, dtype=torch.float64)
    ref, ref_grads = grads_of(lambda z, h: multirate_scan_recurrent(z, rates, h),
                              [z.double(), h0.double()], weight)
    forms = {
        "chunked": lambda z, h: multirate_scan_chunked(z, rates, h, chunk=chunk),
        "recurrent": lambda z, h: multirate_scan_recurrent(z, rates, h),
        "step": lambda z, h: multirate_steps(z, h, rates),
    }
    for form, fn in forms.items():
        assert_matches(*grads_of(fn, [z, h0], weight), ref, ref_grads, dtype, form)


@pytest.mark.parametrize("t", [2048, 8192])
def test_chunked_scan_is_exact_at_long_lengths_with_the_fastest_rate(t):
    z = torch.randn(2, t, 2, generator=torch.Generator().manual_seed(0))
    ref = multirate_scan_recurrent(z.double(), FASTEST, torch.ones(2, 2, dtype=torch.float64))
    fast = multirate_scan_chunked(z, FASTEST, torch.ones(2, 2))
    assert max_relative_error(fast, ref) < TOLERANCE[torch.float32]


@pytest.mark.slow
def test_chunked_scan_is_exact_at_8192_for_all_rates_and_small_chunks():
    rates = log_spaced_rates(4)
    z = torch.randn(2, 8192, 8, generator=torch.Generator().manual_seed(1))
    ref = multirate_scan_recurrent(z.double(), rates)
    for chunk in (8, 32):
        assert max_relative_error(multirate_scan_chunked(z, rates, chunk=chunk), ref) < 1e-5


@pytest.mark.parametrize("form", ["chunked", "recurrent"])
def test_a_nan_in_z_reaches_only_that_channel_from_that_step_on(form):
    z = torch.randn(2, 40, 8)
    z[0, 5, 3] = float("nan")
    if form == "chunked":
        h = multirate_scan_chunked(z, log_spaced_rates(4), chunk=16)
    else:
        h = multirate_scan_recurrent(z, log_spaced_rates(4))
    nan = torch.isnan(h)
    assert nan[0, 5:, 3].all() and nan.sum() == 35  # steps 5..39 of channel 3, nothing else


@pytest.mark.parametrize("with_h0", [False, True])
def test_zero_length_multirate_scans_are_empty(with_h0):
    z, h0 = torch.randn(2, 0, 4), torch.randn(2, 4) if with_h0 else None
    for fn in (multirate_scan_chunked, multirate_scan_recurrent):
        assert fn(z, log_spaced_rates(2), h0).shape == (2, 0, 4)


def test_scan_rejects_bad_shapes():
    with pytest.raises(ValueError, match="divisible"):
        multirate_scan_chunked(torch.randn(1, 4, 6), log_spaced_rates(4))
    with pytest.raises(ValueError, match="> 0"):
        multirate_scan_chunked(torch.randn(1, 4, 4), torch.tensor([0.0, 1.0]))


# ------------------------------------------------------------------------------ tape scan
def tape_inputs(t, dtype, seed=0):
    """(a, b, m0) with hard erases every 5th step: cumulative products of A hit exactly 0."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, t, 3, 4, generator=g, dtype=torch.float64)
    a[:, ::5] = 0.0
    b = torch.randn(2, t, 3, 4, generator=g, dtype=torch.float64)
    m0 = torch.randn(3, 4, generator=g, dtype=torch.float64)
    return a.to(dtype), b.to(dtype), m0.to(dtype)


def tape_steps(a, b, m0):
    m, out = m0.expand(a.shape[0], *m0.shape), []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):
        m = tape_step(a_t, b_t, m)
        out.append(m)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("t,chunk", [(1, None), (5, 2), (64, None), (80, 7)])
def test_every_tape_form_matches_the_float64_recurrence(dtype, t, chunk):
    a, b, m0 = tape_inputs(t, dtype, seed=t)
    weight = torch.randn(2, t, 3, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref, ref_grads = grads_of(tape_scan_recurrent, [a.double(), b.double(), m0.double()], weight)
    forms = {"scan": lambda a, b, m: tape_scan(a, b, m, chunk), "recurrent": tape_scan_recurrent}
    if dtype == torch.float32:  # tape_step is plain elementwise arithmetic in its inputs' dtype
        forms["step"] = tape_steps
    for form, fn in forms.items():
        assert_matches(*grads_of(fn, [a, b, m0], weight), ref, ref_grads, dtype, form)


@pytest.mark.parametrize("chunk", [None, 4, 16])
def test_a_nan_on_the_tape_reaches_only_later_steps_of_that_cell(chunk):
    a, b, m0 = tape_inputs(40, torch.float32)
    a[:, ::5] = 0.5  # no hard erase: NaN·0 would be NaN in the reference too, but stay simple
    b[1, 7, 2, 1] = float("nan")
    m = tape_scan(a, b, m0, chunk)
    nan = torch.isnan(m)
    assert nan[1, 7:, 2, 1].all() and nan.sum() == 33
    assert torch.equal(nan, torch.isnan(tape_scan_recurrent(a, b, m0)))


def test_zero_length_tape_scans_are_empty():
    a, b, m0 = tape_inputs(0, torch.float32)
    assert tape_scan(a, b, m0).shape == tape_scan_recurrent(a, b, m0).shape == (2, 0, 3, 4)


def test_distinct_writes_leave_distinct_slots():
    weights = torch.eye(3)[None]  # three writes, each to its own slot
    add = torch.randn(1, 3, 5)
    a, b = write_maps(weights, torch.ones(1, 3, 5), add, torch.ones(1, 3))
    tape = tape_scan(a, b, torch.zeros(3, 5))[:, -1]
    torch.testing.assert_close(tape[0], add[0])
    assert torch.cdist(tape[0], tape[0]).fill_diagonal_(1.0).min() > 1e-3


@pytest.mark.parametrize("chunk", [None, 1, 6, 7, 8, 50])
@pytest.mark.parametrize("m0_rows", [0, 1, 2])
def test_tape_scan_handles_chunk_edges_broadcast_tapes_and_expanded_decays(chunk, m0_rows):
    """T = 7 against chunks below, at and past T; m0 shared ([S, d]), [1, S, d] or per row; A a
    stride-0 expansion of one decay per cell (the SSM's use). Value and gradients = float64 loop."""
    g = torch.Generator().manual_seed(chunk or 0)
    decay = torch.rand(3, 4, generator=g, dtype=torch.float64)
    b = torch.randn(2, 7, 3, 4, generator=g, dtype=torch.float64)
    m0 = torch.randn(*((m0_rows,) if m0_rows else ()), 3, 4, generator=g, dtype=torch.float64)
    weight = torch.randn(2, 7, 3, 4, generator=g, dtype=torch.float64)

    def run(fn):
        leaves = [x.clone().requires_grad_() for x in (decay, b, m0)]
        out = fn(leaves[0].expand_as(b), leaves[1], leaves[2])
        return out, torch.autograd.grad((out * weight).sum(), leaves)

    ref, ref_grads = run(tape_scan_recurrent)
    out, grads = run(lambda a, b, m: tape_scan(a, b, m, chunk))
    assert_matches(out, grads, ref, ref_grads, torch.float64, f"chunk={chunk}")
