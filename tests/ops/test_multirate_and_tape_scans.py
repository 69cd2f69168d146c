"""Multi-rate scan and tape scan: parallel forms equal their recurrent references."""

import math

import pytest
import torch

from prismlm.ops.multirate_scan import (
    log_spaced_rates,
    multirate_scan_chunked,
    multirate_scan_recurrent,
    multirate_scan_step,
)
from prismlm.ops.tape_scan import tape_scan, tape_scan_recurrent, tape_step, write_maps

FASTEST = torch.tensor([math.log(256.0)])


def _compare_scan(t: int, rates: torch.Tensor, chunk: int = 64, with_h0: bool = True) -> None:
    g = torch.Generator().manual_seed(t)
    z = torch.randn(2, t, 2 * rates.numel(), generator=g, requires_grad=True)
    h0 = torch.randn(2, 2 * rates.numel(), generator=g) if with_h0 else None
    ref = multirate_scan_recurrent(z, rates, h0)
    fast = multirate_scan_chunked(z, rates, h0, chunk=chunk)
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    w = torch.randn(ref.shape, generator=g)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), z)
    (g_fast,) = torch.autograd.grad((fast * w).sum(), z)
    torch.testing.assert_close(g_fast, g_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("t", [1, 7, 64, 65, 300, 2048])
def test_chunked_multirate_scan_matches_recurrent_reference(t):
    _compare_scan(t, log_spaced_rates(4), chunk=16)


def test_chunked_scan_is_exact_at_8192_with_the_fastest_rate():
    _compare_scan(8192, FASTEST)


@pytest.mark.slow
def test_chunked_scan_is_exact_at_8192_for_all_rates_and_small_chunks():
    _compare_scan(8192, log_spaced_rates(4), chunk=32, with_h0=False)
    _compare_scan(8192, log_spaced_rates(4), chunk=8)


def test_reference_closed_form_overflows_where_ours_does_not():
    # h(t) = γ^t Σ_{s≤t} γ^{-s} z(s): γ^{-s} is inf in float64 past s ≈ 709 / Δ ≈ 128.
    t = torch.arange(200, dtype=torch.float64)
    closed = torch.exp(FASTEST.double() * t)  # γ^{-s}
    assert not torch.isfinite(closed).all()
    z = torch.ones(1, 200, 1)
    assert torch.isfinite(multirate_scan_chunked(z, FASTEST)).all()


def test_multirate_step_reproduces_the_scan():
    rates = log_spaced_rates(4)
    z = torch.randn(3, 20, 8)
    full = multirate_scan_chunked(z, rates)
    h = torch.zeros(3, 8)
    for t in range(20):
        h = multirate_scan_step(z[:, t], h, rates)
        torch.testing.assert_close(h, full[:, t], atol=1e-6, rtol=1e-6)


def test_scan_rejects_bad_shapes():
    with pytest.raises(ValueError, match="divisible"):
        multirate_scan_chunked(torch.randn(1, 4, 6), log_spaced_rates(4))
    with pytest.raises(ValueError, match="> 0"):
        multirate_scan_chunked(torch.randn(1, 4, 4), torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("t,chunk", [(1, None), (5, 2), (64, None), (100, 7), (1000, None)])
def test_tape_scan_matches_recurrent_reference_values_and_gradients(t, chunk):
    g = torch.Generator().manual_seed(t)
    a = torch.rand(2, t, 3, 4, generator=g)
    a[:, ::5] = 0.0  # hard erases: cumulative products hit exactly 0
    a.requires_grad_()
    b = torch.randn(2, t, 3, 4, generator=g, requires_grad=True)
    m0 = torch.randn(3, 4, generator=g)
    ref, fast = tape_scan_recurrent(a, b, m0), tape_scan(a, b, m0, chunk)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    w = torch.randn(ref.shape, generator=g)
    grads_ref = torch.autograd.grad((ref * w).sum(), (a, b))
    grads_fast = torch.autograd.grad((fast * w).sum(), (a, b))
    for gf, gr in zip(grads_fast, grads_ref, strict=True):
        torch.testing.assert_close(gf, gr, atol=1e-4, rtol=1e-4)
    m = m0.expand(2, 3, 4)
    for i in range(t):
        m = tape_step(a[:, i], b[:, i], m)
    torch.testing.assert_close(m, fast[:, -1], atol=1e-5, rtol=1e-5)


def test_distinct_writes_leave_distinct_slots():
    weights = torch.eye(3)[None]  # three writes, each to its own slot
    add = torch.randn(1, 3, 5)
    a, b = write_maps(weights, torch.ones(1, 3, 5), add, torch.ones(1, 3))
    tape = tape_scan(a, b, torch.zeros(3, 5))[:, -1]
    torch.testing.assert_close(tape[0], add[0])
    assert torch.cdist(tape[0], tape[0]).fill_diagonal_(1.0).min() > 1e-3
