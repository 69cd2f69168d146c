"""Feature maps are parameter-free, unit-norm, and rand_linear cannot raise key rank."""

import pytest
import torch

from prismlm.models.prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from prismlm.ops.feature_maps import (
    DEFAULT_LOWRANK,
    FEATURE_MAPS,
    apply_feature_map,
    feature_dim,
    make_feature_buffers,
)


def _model(feat_map, **kw):
    return PrizmaSeqLM(PrizmaSeqConfig(vocab_size=64, d_model=64, n_layers=2, n_heads=2,
                                       feat_map=feat_map, feat_n2=96, **kw))


def test_quad2_adds_zero_trainable_parameters():
    counts = {fm: _model(fm).num_parameters() for fm in FEATURE_MAPS}
    assert len(set(counts.values())) == 1, counts
    state = _model("quad2").state_dict()
    assert "blocks.0.mixer.idx_i" in state and "blocks.0.mixer.idx_j" in state
    names = {n for n, _ in _model("quad2").named_parameters()}
    assert not any("idx_" in n for n in names)


@pytest.mark.parametrize("kind", FEATURE_MAPS)
def test_features_are_unit_norm_with_the_stated_width(kind):
    x = torch.nn.functional.normalize(torch.randn(10, 32), dim=-1)
    phi = apply_feature_map(kind, x, make_feature_buffers(kind, 32, 96))
    assert phi.shape == (10, feature_dim(kind, 32, 96))
    assert torch.allclose(phi.norm(dim=-1), torch.ones(10), atol=1e-5)


def test_feature_buffers_are_identical_in_every_layer():
    model = _model("quad2")
    first, second = model.blocks[0].mixer, model.blocks[1].mixer
    assert torch.equal(first.idx_i, second.idx_i) and torch.equal(first.idx_j, second.idx_j)


@pytest.mark.parametrize("rank,d_phi", [(0, 137), (14, 137), (11, 98)])
def test_quad2_lowrank_width_is_head_dim_plus_all_pairs(rank, d_phi):
    assert feature_dim("quad2_lowrank", 32, 96, rank) == d_phi  # d_h + r(r+1)/2; n2 is unused
    buffers = make_feature_buffers("quad2_lowrank", 32, 96, rank=rank)
    r = rank or DEFAULT_LOWRANK
    gen = torch.Generator().manual_seed(rank)
    x = torch.nn.functional.normalize(torch.randn(50, 32, generator=gen), dim=-1)
    phi = apply_feature_map("quad2_lowrank", x, buffers)
    assert phi.shape == (50, d_phi)
    assert torch.allclose(phi.norm(dim=-1), torch.ones(50), atol=1e-5)
    assert buffers["lift"].shape == (32, r)
    # the monomials are z_i z_j for every i <= j of z = x P, in row-major order
    z = (x / (x.norm(dim=-1, keepdim=True) + 1e-6)) @ buffers["lift"]
    pairs = [(i, j) for i in range(r) for j in range(i, r)]
    assert [tuple(p) for p in torch.stack((buffers["idx_i"], buffers["idx_j"]), 1).tolist()] == pairs
    monomials = torch.stack([z[:, i] * z[:, j] for i, j in pairs], dim=1)
    f = torch.cat((x, monomials), dim=1)  # φ = f / ‖f‖ (a ratio test is unstable where z_i z_j ≈ 0)
    torch.testing.assert_close(phi, f / (f.norm(dim=-1, keepdim=True) + 1e-6), rtol=1e-5, atol=1e-6)


def test_quad2_lowrank_buffers_are_seeded_and_identical_in_every_layer():
    model = _model("quad2_lowrank", feat_rank=11)
    first, second = model.blocks[0].mixer, model.blocks[1].mixer
    for name in ("lift", "idx_i", "idx_j", "select"):
        assert torch.equal(getattr(first, name), getattr(second, name)), name
        assert f"blocks.0.mixer.{name}" in model.state_dict()
    gen = torch.Generator().manual_seed(1234)
    assert torch.equal(first.lift, torch.randn(32, 11, generator=gen) / 32**0.5)
    assert first.feat_dim == 98


def test_rand_linear_keeps_rank_at_most_head_dim_while_quad2_exceeds_it():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(512, 32, generator=g), dim=-1)
    rank = {
        kind: torch.linalg.matrix_rank(apply_feature_map(kind, x, make_feature_buffers(kind, 32, 96))).item()
        for kind in ("rand_linear", "quad2")
    }
    assert rank["rand_linear"] <= 32
    assert rank["quad2"] > 32


def test_unknown_feature_map_is_rejected():
    with pytest.raises(ValueError, match="feat_map"):
        PrizmaSeqConfig(vocab_size=10, feat_map="cubic")
