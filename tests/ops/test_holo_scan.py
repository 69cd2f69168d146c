"""ops/holo_scan.py: the chunked causal holographic scan equals its per-token loop."""

import math

import pytest
import torch

from prismlm.ops.holo_scan import (
    causal_superpose,
    holo_readout,
    holo_scan,
    holo_scan_naive,
    normalized_unbind,
)
from prismlm.ops.vsa import random_bipolar


def _inputs(b, t, d, kind, seed=0, d_out=5):
    g = torch.Generator().manual_seed(seed)
    k, v, q = (random_bipolar(b * t, d, g).view(b, t, d).double() for _ in range(3))
    if kind == "correlated":  # every position binds the same key: H grows like t, not √t
        k = k[:, :1].expand(b, t, d).clone()
        q = k.clone()
    h0 = torch.randn(b, d, generator=g, dtype=torch.float64)
    if kind == "extreme":  # a huge initial tape dwarfs the writes: tests the RMS normalisation
        h0 = h0 * 1e6
    gates = torch.rand(b, t, generator=g, dtype=torch.float64)
    readout = torch.randn(d, d_out, generator=g, dtype=torch.float64) / math.sqrt(d_out)
    return k, v, q, readout, h0, gates


@pytest.mark.parametrize("t", [1, 7, 16, 17, 33])
@pytest.mark.parametrize("chunk", [1, 4, 16, 128])
@pytest.mark.parametrize("kind", ["random", "correlated", "extreme"])
def test_chunked_scan_matches_the_per_token_loop_in_values_and_gradients(t, chunk, kind):
    leaves = [x.requires_grad_() for x in _inputs(2, t, 24, kind)]
    y, h = holo_scan(*leaves, chunk=chunk)
    y_ref, h_ref = holo_scan_naive(*leaves)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(h, h_ref)
    probe = torch.randn_like(y)
    grads = torch.autograd.grad((y * probe).sum() + h.sum(), leaves)
    grads_ref = torch.autograd.grad((y_ref * probe).sum() + h_ref.sum(), leaves)
    for got, want in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want)


def test_without_readout_or_gates_the_scan_returns_the_normalised_unbind():
    k, v, q, _, h0, _ = _inputs(1, 9, 16, "random")
    r, _ = holo_scan(k, v, q, h0=h0[0], chunk=4)  # h0 as [D], broadcast over the batch
    tape = causal_superpose(k * v, h0[0])
    torch.testing.assert_close(r, normalized_unbind(q, tape))
    torch.testing.assert_close(tape[:, -1], h0[0] + (k * v).sum(1))


def test_the_read_at_t_never_sees_a_later_write():
    k, v, q, w, h0, _ = _inputs(1, 12, 32, "random")
    y, _ = holo_scan(k, v, q, w, h0, chunk=5)
    v2 = v.clone()
    v2[:, 6:] = -v2[:, 6:]
    y2, _ = holo_scan(k, v2, q, w, h0, chunk=5)
    torch.testing.assert_close(y[:, :6], y2[:, :6])
    assert not torch.allclose(y[:, 6:], y2[:, 6:])


def test_one_stored_pair_reads_back_its_value_exactly():
    g = torch.Generator().manual_seed(3)
    k, v = random_bipolar(2, 64, g)
    r, _ = holo_scan(k.view(1, 1, 64), v.view(1, 1, 64), k.view(1, 1, 64))
    torch.testing.assert_close(r[0, 0], v)  # k ⊙ (k ⊙ v) / rms(k ⊙ v) = v
    w = torch.randn(64, 4, generator=g)
    torch.testing.assert_close(holo_readout(r, w)[0, 0], v @ w * 2 / 64)  # √4 / D


def test_an_empty_tape_reads_zero_with_finite_gradients():
    q = torch.ones(1, 3, 8, requires_grad=True)
    zeros = torch.zeros(1, 3, 8)
    y, h = holo_scan(zeros, zeros, q)
    assert torch.equal(y, torch.zeros_like(y)) and torch.equal(h, torch.zeros(1, 8))
    y.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_bad_shapes_name_the_argument():
    x = torch.ones(1, 4, 8)
    with pytest.raises(ValueError, match="share a"):
        holo_scan(x, x, torch.ones(1, 4, 9))
    with pytest.raises(ValueError, match="gates"):
        holo_scan(x, x, x, gates=torch.ones(4))
    with pytest.raises(ValueError, match="h0"):
        holo_scan(x, x, x, h0=torch.ones(3))
    with pytest.raises(ValueError, match="readout"):
        holo_scan(x, x, x, readout=torch.ones(7, 2))
    with pytest.raises(ValueError, match="chunk"):
        holo_scan(x, x, x, chunk=0)
