"""VSA algebra (ops/vsa.py): MAP and HRR binding, superposition, cleanup."""

import math

import pytest
import torch

from prismlm.ops.vsa import (
    bipolarize,
    cleanup,
    cosine_matrix,
    hrr_bind,
    hrr_bind_naive,
    hrr_unbind,
    hrr_unbind_naive,
    map_bind,
    map_unbind,
    pack_bipolar,
    random_bipolar,
    random_hrr,
    sign_ste,
    superpose,
    unpack_bipolar,
)


def test_fft_hrr_matches_naive_circular_convolution_and_correlation():
    g = torch.Generator().manual_seed(0)
    a, b = random_hrr(2, 33, g)
    assert torch.allclose(hrr_bind(a, b), hrr_bind_naive(a, b), atol=1e-5)
    assert torch.allclose(hrr_unbind(a, b), hrr_unbind_naive(a, b), atol=1e-5)


def test_map_bind_is_self_inverse():
    g = torch.Generator().manual_seed(1)
    k, v = random_bipolar(2, 256, g)
    assert torch.equal(map_unbind(map_bind(k, v), k), v)


@pytest.mark.parametrize("algebra", ["map", "hrr"])
def test_unbind_of_superposition_is_closest_to_the_bound_value(algebra):
    g = torch.Generator().manual_seed(2)
    n, d = 50, 4096
    make = random_bipolar if algebra == "map" else random_hrr
    keys, values = make(n, d, g), make(n, d, g)
    bind, unbind = (map_bind, map_unbind) if algebra == "map" else (hrr_bind, hrr_unbind)
    tape = superpose(bind(keys, values))  # batched over facts
    noisy = unbind(tape, keys)
    idx, _ = cleanup(noisy, values)
    assert torch.equal(idx[:, 0], torch.arange(n))
    # cos(unbind, v_true) ≈ 1/√N within sampling error
    cos = cosine_matrix(noisy, values).diagonal()
    assert abs(cos.mean().item() - 1 / math.sqrt(n)) < 0.03


def test_cleanup_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match="dimension mismatch"):
        cleanup(torch.ones(2, 8), torch.ones(3, 16))


def test_bipolar_pack_roundtrip_and_sign_ste_gradient():
    g = torch.Generator().manual_seed(3)
    x = random_bipolar(1, 64, g)[0]
    assert torch.equal(unpack_bipolar(pack_bipolar(x), 64), x)
    assert torch.equal(bipolarize(torch.tensor([0.0, -0.1, 2.0])), torch.tensor([1.0, -1.0, 1.0]))
    z = torch.tensor([0.5, -3.0], requires_grad=True)
    sign_ste(z).sum().backward()
    assert torch.equal(z.grad, torch.tensor([1.0, 0.0]))
