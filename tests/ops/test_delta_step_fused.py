"""The fused in-place decode step equals `delta_rule_step`; its guard refuses unsafe calls."""

import pytest
import torch

from prismlm.ops.delta_rule import delta_rule_step
from prismlm.ops.delta_step_fused import can_fuse, decode_features, delta_step_, pair_index
from prismlm.ops.feature_maps import FEATURE_MAPS, apply_feature_map, make_feature_buffers


def _inputs(gated: bool, dtype=torch.float64, B=3, H=2, K=24, V=8):
    gen = torch.Generator().manual_seed(0)
    phi = torch.nn.functional.normalize(torch.randn(B, H, 2, K, generator=gen, dtype=dtype), dim=-1)
    v = torch.randn(B, H, V, generator=gen, dtype=dtype)
    beta = torch.rand(B, H, generator=gen, dtype=dtype)
    alpha = torch.rand(B, H, generator=gen, dtype=dtype) if gated else None
    state = torch.randn(B, H, V, K, generator=gen, dtype=dtype)
    return phi, v, beta, alpha, state


ERASES = {"beta": None, "additive": "zeros", "decoupled": "random", "extreme": "extreme"}


def _erase(kind, beta):
    if kind is None:
        return None
    if kind == "zeros":
        return torch.zeros_like(beta)
    if kind == "extreme":  # the gate's bounds, alternating per head
        return torch.tensor([0.0, 0.99], dtype=beta.dtype).repeat(beta.shape[-1] // 2).expand_as(beta)
    return torch.rand(beta.shape, generator=torch.Generator().manual_seed(1), dtype=beta.dtype)


@pytest.mark.parametrize("erase_kind", list(ERASES))
@pytest.mark.parametrize("gated", [False, True])
def test_fused_step_equals_delta_rule_step_and_writes_the_state_in_place(gated, erase_kind):
    phi, v, beta, alpha, state = _inputs(gated)
    erase = _erase(ERASES[erase_kind], beta)
    o_ref, s_ref = delta_rule_step(
        phi[:, :, 0], phi[:, :, 1], v, beta, alpha, state.clone(), erase
    )
    storage = state.data_ptr()
    assert can_fuse(phi, v, beta, alpha, state, erase)
    o = delta_step_(phi, v, beta, alpha, state, erase)
    assert state.data_ptr() == storage  # no new state tensor
    torch.testing.assert_close(o, o_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state, s_ref, rtol=1e-12, atol=1e-12)


def test_guard_refuses_autograd_mixed_dtypes_and_half_states():
    phi, v, beta, alpha, state = _inputs(True, torch.float32)
    assert can_fuse(phi, v, beta, alpha, state)
    assert not can_fuse(phi.double(), v, beta, alpha, state)
    assert not can_fuse(phi, v, beta, alpha, state.half())
    assert not can_fuse(phi, v, beta, alpha, state, beta.double())
    assert not can_fuse(phi, v, beta, alpha, state.transpose(0, 1))  # a view of S must alias it
    assert not can_fuse(phi.requires_grad_(), v, beta, alpha, state)
    with torch.no_grad():
        assert can_fuse(phi, v, beta, alpha, state)


@pytest.mark.parametrize("gather", [False, True])
@pytest.mark.parametrize("kind", FEATURE_MAPS)
def test_decode_features_equal_the_training_feature_map(kind, gather):
    buffers = make_feature_buffers(kind, 16, 40)
    pairs = pair_index(buffers) if gather and "idx_i" in buffers else None
    x = torch.nn.functional.normalize(torch.randn(3, 4, 2, 16), dim=-1)
    torch.testing.assert_close(decode_features(kind, x, buffers, pairs), apply_feature_map(kind, x, buffers))


def test_the_pair_gather_is_exactly_the_selector_matmul():
    buffers = make_feature_buffers("quad2", 16, 40)
    x = torch.randn(5, 16)
    gathered = x.index_select(1, pair_index(buffers))
    assert torch.equal(gathered, x @ buffers["select"])


@pytest.mark.parametrize("erase_kind", ["beta", "decoupled"])
def test_gate_scale_scales_both_strengths(erase_kind):
    phi, v, beta, alpha, state = _inputs(True)
    erase = _erase(ERASES[erase_kind], beta)
    scaled = None if erase is None else 0.7 * erase
    o_ref, s_ref = delta_rule_step(phi[:, :, 0], phi[:, :, 1], v, 0.7 * beta, alpha, state.clone(), scaled)
    o = delta_step_(phi, v, beta, alpha, state, erase, gate_scale=0.7)
    torch.testing.assert_close(o, o_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state, s_ref, rtol=1e-12, atol=1e-12)
