"""The chunked delta rule and the decode step agree with the recurrent definition."""

import pytest
import torch
import torch.nn.functional as F

from prismlm.ops.delta_rule import (
    delta_rule,
    delta_rule_chunked,
    delta_rule_recurrent,
    delta_rule_step,
)


def _inputs(T, gated, with_state, B=2, H=3, K=48, V=16, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(B, H, T, K, generator=g, dtype=dtype), dim=-1)
    k = F.normalize(torch.randn(B, H, T, K, generator=g, dtype=dtype), dim=-1)
    v = torch.randn(B, H, T, V, generator=g, dtype=dtype)
    beta = 0.99 * torch.rand(B, H, T, generator=g, dtype=dtype)
    alpha = 0.5 + 0.5 * torch.rand(B, H, T, generator=g, dtype=dtype) if gated else None
    s0 = torch.randn(B, H, V, K, generator=g, dtype=dtype) if with_state else None
    return [q, k, v, beta, alpha, s0]


def _rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


@pytest.mark.parametrize("T", [1, 17, 63, 64, 65, 200])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_chunked_delta_rule_matches_recurrent_reference(T, gated, with_state):
    inputs = _inputs(T, gated, with_state)
    leaves = [x.requires_grad_() if x is not None else None for x in inputs]
    o_ref, s_ref = delta_rule_recurrent(*leaves)
    o_chk, s_chk = delta_rule_chunked(*leaves, chunk_size=64)
    assert _rel_err(o_chk, o_ref) < 1e-4
    assert _rel_err(s_chk, s_ref) < 1e-4

    g = torch.Generator().manual_seed(1)
    w_o, w_s = torch.randn(o_ref.shape, generator=g), torch.randn(s_ref.shape, generator=g)
    present = [x for x in leaves if x is not None]
    grads_ref = torch.autograd.grad((o_ref * w_o).sum() + (s_ref * w_s).sum(), present)
    grads_chk = torch.autograd.grad((o_chk * w_o).sum() + (s_chk * w_s).sum(), present)
    for name, a, b in zip("q k v beta alpha S0".split(), grads_chk, grads_ref, strict=False):
        assert _rel_err(a, b) < 1e-4, name


def test_chunked_handles_strong_decay_at_long_length_without_overflow():
    q, k, v, beta, _, s0 = _inputs(300, False, True, B=1, H=1)
    alpha = torch.full_like(beta, 1e-3)  # log-decay ≈ −6.9 per step: raw ratios would overflow
    o_ref, s_ref = delta_rule_recurrent(q, k, v, beta, alpha, s0)
    o_chk, s_chk = delta_rule_chunked(q, k, v, beta, alpha, s0, chunk_size=64)
    assert torch.isfinite(o_chk).all()
    assert _rel_err(o_chk, o_ref) < 1e-4 and _rel_err(s_chk, s_ref) < 1e-4


@pytest.mark.parametrize("chunk_size", [1, 5, 16])
def test_chunk_size_does_not_change_the_result(chunk_size):
    inputs = _inputs(37, True, True)
    o_ref, s_ref = delta_rule_recurrent(*inputs)
    o, s = delta_rule_chunked(*inputs, chunk_size=chunk_size)
    assert _rel_err(o, o_ref) < 1e-4 and _rel_err(s, s_ref) < 1e-4


@pytest.mark.parametrize("gated", [False, True])
def test_step_decoding_matches_recurrent_reference(gated):
    q, k, v, beta, alpha, s0 = _inputs(20, gated, True)
    o_ref, s_ref = delta_rule_recurrent(q, k, v, beta, alpha, s0)
    S, outs = s0, []
    for t in range(20):
        o_t, S = delta_rule_step(
            q[:, :, t], k[:, :, t], v[:, :, t], beta[:, :, t],
            None if alpha is None else alpha[:, :, t], S,
        )
        outs.append(o_t)
    assert _rel_err(torch.stack(outs, 2), o_ref) < 1e-5 and _rel_err(S, s_ref) < 1e-5


def test_recurrent_and_chunked_pass_float64_gradcheck():
    inputs = _inputs(8, True, True, B=1, H=1, K=5, V=3, dtype=torch.float64)
    leaves = [x.requires_grad_() for x in inputs]
    assert torch.autograd.gradcheck(lambda *a: delta_rule_recurrent(*a), leaves)
    assert torch.autograd.gradcheck(lambda *a: delta_rule_chunked(*a, chunk_size=3), leaves)


def test_read_happens_before_the_write():
    q, k, v, beta, _, _ = _inputs(10, False, False)
    o, _ = delta_rule_chunked(q, k, v, beta)
    assert torch.equal(o[:, :, 0], torch.zeros_like(o[:, :, 0]))  # S_0 = 0 gives o_0 = 0 exactly
    k2, v2 = k.clone(), v.clone()
    k2[:, :, -1] = F.normalize(torch.randn_like(k2[:, :, -1]), dim=-1)
    v2[:, :, -1] = torch.randn_like(v2[:, :, -1])
    o2, _ = delta_rule_chunked(q, k2, v2, beta)
    assert torch.equal(o, o2)  # the last (k, v) never reaches any output


def test_overwrite_keeps_the_last_binding():
    key = F.normalize(torch.randn(4), dim=0)
    v0, v1 = torch.randn(3), torch.randn(3)
    k = key.expand(1, 1, 3, 4).clone()
    v = torch.stack((v0, v1, torch.zeros(3)))[None, None]
    beta = torch.tensor([[[0.99, 0.99, 0.0]]])
    o, _ = delta_rule_recurrent(k, k, v, beta)
    expected = 0.99 * v1 + 0.99 * 0.01 * v0
    assert torch.allclose(o[0, 0, 2], expected, atol=1e-6)


def test_bad_shapes_are_rejected_with_a_clear_message():
    q, k, v, beta, _, _ = _inputs(5, False, False)
    with pytest.raises(ValueError, match="beta must be"):
        delta_rule(q, k, v, beta[..., :4])
    with pytest.raises(ValueError, match="unknown delta-rule backend"):
        delta_rule(q, k, v, beta, backend="magic")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("gated", [False, True])
def test_fla_kernel_matches_chunked_reference_on_gpu(gated):
    pytest.importorskip("fla")
    inputs = [x.cuda() if x is not None else None for x in _inputs(130, gated, True, K=40)]
    o_ref, s_ref = delta_rule(*inputs, backend="chunked")
    o, s = delta_rule(*inputs, backend="fla")
    assert _rel_err(o, o_ref) < 2e-3 and _rel_err(s, s_ref) < 2e-3
