"""The fast quad2 path (analytic norm, hand-written backward) equals the autograd formula."""

import pytest
import torch

from prismlm.layers.prizma_mixer import PrizmaMixer
from prismlm.ops.feature_maps import make_feature_buffers, quad2_features, quad2_features_reference


def _inputs(kind: str, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(3, 5, 7, 16, generator=gen, dtype=torch.float64)
    if kind == "unit":
        return torch.nn.functional.normalize(x, dim=-1)
    if kind == "one_hot":  # a single nonzero coordinate: most monomials vanish
        return torch.eye(16, dtype=torch.float64)[torch.randint(0, 16, (3, 5, 7), generator=gen)]
    if kind == "mixed_scale":  # rows from 1e-4 to 1e3, some exactly zero
        scale = 10.0 ** torch.randint(-4, 4, (3, 5, 7, 1), generator=gen).double()
        scale[0, 0] = 0.0
        return x * scale
    return x


@pytest.mark.parametrize("kind", ["gaussian", "unit", "one_hot", "mixed_scale"])
@pytest.mark.parametrize("seed", [0, 1])
def test_quad2_fast_path_matches_reference_in_value_and_gradient(kind, seed):
    gen = torch.Generator().manual_seed(seed)
    select = make_feature_buffers("quad2", 16, 40, seed=seed)["select"].double()  # I = J pairs too
    x = _inputs(kind, gen)
    upstream = torch.randn(3, 7, 5, 56, generator=gen, dtype=torch.float64)
    grads = []
    for fn in (quad2_features_reference, quad2_features):
        leaf = x.clone().requires_grad_()
        phi = fn(leaf.transpose(1, 2), select)  # a non-contiguous view, as in the mixer
        grads.append((phi, torch.autograd.grad(phi, leaf, upstream)[0]))
    (ref, ref_grad), (fast, fast_grad) = grads
    assert torch.allclose(fast, ref, rtol=1e-10, atol=1e-12)
    assert torch.allclose(fast_grad, ref_grad, rtol=1e-8, atol=1e-9)


def test_quad2_fast_backward_passes_gradcheck():
    select = make_feature_buffers("quad2", 6, 9)["select"].double()
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: quad2_features(t, select), (x,))


def test_quad2_fast_path_without_grad_equals_reference():
    select = make_feature_buffers("quad2", 32, 224)["select"]
    x = torch.nn.functional.normalize(torch.randn(2, 4, 2, 32), dim=-1)
    with torch.no_grad():
        assert torch.allclose(quad2_features(x, select), quad2_features_reference(x, select), atol=1e-6)


def test_mixer_gradients_match_the_reference_feature_map(monkeypatch):
    torch.manual_seed(0)
    mixer = PrizmaMixer(32, 2, feat_n2=24, window=4, chunk_size=8).double()
    xn = torch.randn(2, 40, 32, dtype=torch.float64)
    results = []
    for fn in (quad2_features_reference, quad2_features):
        monkeypatch.setattr("prismlm.ops.feature_maps.quad2_features", fn)
        mixer.zero_grad()
        out = mixer(xn)
        out.square().sum().backward()
        results.append((out.detach(), mixer.qkv.weight.grad.clone()))
    assert torch.allclose(results[0][0], results[1][0], atol=1e-10)
    assert torch.allclose(results[0][1], results[1][1], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kind", ["gaussian", "unit", "mixed_scale"])
@pytest.mark.parametrize("rank", [1, 5])
def test_lifted_quad2_fast_path_matches_reference_in_value_and_gradient(kind, rank):
    # quad2_lowrank is quad2 on z = x P: the same fast path with a lift
    gen = torch.Generator().manual_seed(rank)
    buffers = make_feature_buffers("quad2_lowrank", 16, 0, seed=rank, rank=rank)
    select, lift = buffers["select"].double(), buffers["lift"].double()
    x = _inputs(kind, gen)
    upstream = torch.randn(3, 7, 5, 16 + rank * (rank + 1) // 2, generator=gen, dtype=torch.float64)
    grads = []
    for fn in (quad2_features_reference, quad2_features):
        leaf = x.clone().requires_grad_()
        phi = fn(leaf.transpose(1, 2), select, lift)
        grads.append((phi, torch.autograd.grad(phi, leaf, upstream)[0]))
    (ref, ref_grad), (fast, fast_grad) = grads
    assert torch.allclose(fast, ref, rtol=1e-10, atol=1e-12)
    assert torch.allclose(fast_grad, ref_grad, rtol=1e-8, atol=1e-9)


def test_lifted_quad2_fast_backward_passes_gradcheck():
    buffers = make_feature_buffers("quad2_lowrank", 6, 0, rank=4)
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    select, lift = buffers["select"].double(), buffers["lift"].double()
    assert torch.autograd.gradcheck(lambda t: quad2_features(t, select, lift), (x,))
