"""The fused rotary + KV-cache kernel equals the attention layer's torch step (the reference)."""

import pytest
import torch

import prismlm.layers.attention as attention_module
from prismlm.layers.attention import CausalSelfAttention, KVCache
from prismlm.ops.cpu_kernels import AVAILABLE, cpu_kernels

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="numba not installed")


def _run(layer, rows, kernels: bool, capacity: int):
    cache = KVCache(rows[0].shape[0], layer.n_heads, layer.head_dim, "cpu", torch.float32, capacity)
    with torch.no_grad(), cpu_kernels(kernels):
        outs = [layer.step(x, cache, residual=x) for x in rows]
    return outs, cache


@pytest.mark.parametrize("scale", [1.0, 30.0])
@pytest.mark.parametrize("batch", [1, 3])
def test_kernel_step_equals_the_torch_step_across_a_cache_growth(batch, scale, monkeypatch):
    torch.manual_seed(0)
    layer = CausalSelfAttention(16, 2, max_len=64)
    rows = list(scale * torch.randn(11, batch, 16, generator=torch.Generator().manual_seed(1)))
    calls = []
    real = attention_module.rope_append_step
    monkeypatch.setattr(attention_module, "rope_append_step", lambda *a: (calls.append(1), real(*a)))
    out_kernel, cache_kernel = _run(layer, rows, True, capacity=4)  # grows at 4 and 8
    assert len(calls) == len(rows)
    out_torch, cache_torch = _run(layer, rows, False, capacity=4)
    assert len(calls) == len(rows)
    for a, b in zip(out_kernel, out_torch, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * scale)
    n = cache_torch.length
    assert cache_kernel.length == n == len(rows)
    keys = cache_kernel.k[:, :, :n], cache_torch.k[:, :, :n]
    torch.testing.assert_close(*keys, rtol=1e-5, atol=1e-6 * scale)
    assert torch.equal(cache_kernel.v[:, :, :n], cache_torch.v[:, :, :n])


def test_kernel_step_refuses_positions_beyond_the_rotary_table():
    layer = CausalSelfAttention(16, 2, max_len=2)
    cache = KVCache(1, 2, 8, "cpu", torch.float32)
    with torch.no_grad():
        layer.step(torch.randn(1, 16), cache)
        layer.step(torch.randn(1, 16), cache)
        with pytest.raises(ValueError, match="beyond the rotary table"):
            layer.step(torch.randn(1, 16), cache)


def test_a_cache_filled_under_autograd_decodes_through_the_torch_form(monkeypatch):
    layer = CausalSelfAttention(16, 2, max_len=16)
    cache = KVCache(1, 2, 8, "cpu", torch.float32)
    layer(torch.randn(1, 3, 16), cache)  # grad enabled: the cache now sits in a graph
    assert cache.k.requires_grad
    calls = []
    monkeypatch.setattr(attention_module, "rope_append_step", lambda *a: calls.append(1))
    with torch.no_grad():
        out = layer.step(torch.randn(1, 16), cache)
    assert not calls and out.shape == (1, 16) and cache.length == 4
