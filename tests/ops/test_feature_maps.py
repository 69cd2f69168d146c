"""Feature maps are parameter-free, unit-norm, and rand_linear cannot raise key rank."""

import pytest
import torch

from prismlm.models.prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from prismlm.ops.feature_maps import apply_feature_map, feature_dim, make_feature_buffers


def _model(feat_map):
    return PrizmaSeqLM(PrizmaSeqConfig(vocab_size=64, d_model=64, n_layers=2, n_heads=2,
                                       feat_map=feat_map, feat_n2=96))


def test_quad2_adds_zero_trainable_parameters():
    counts = {fm: _model(fm).num_parameters() for fm in ("none", "quad2", "rand_linear")}
    assert len(set(counts.values())) == 1, counts
    state = _model("quad2").state_dict()
    assert "blocks.0.mixer.idx_i" in state and "blocks.0.mixer.idx_j" in state
    names = {n for n, _ in _model("quad2").named_parameters()}
    assert not any("idx_" in n for n in names)


@pytest.mark.parametrize("kind", ["none", "quad2", "rand_linear"])
def test_features_are_unit_norm_with_the_stated_width(kind):
    x = torch.nn.functional.normalize(torch.randn(10, 32), dim=-1)
    phi = apply_feature_map(kind, x, make_feature_buffers(kind, 32, 96))
    assert phi.shape == (10, feature_dim(kind, 32, 96))
    assert torch.allclose(phi.norm(dim=-1), torch.ones(10), atol=1e-5)


def test_feature_buffers_are_identical_in_every_layer():
    model = _model("quad2")
    first, second = model.blocks[0].mixer, model.blocks[1].mixer
    assert torch.equal(first.idx_i, second.idx_i) and torch.equal(first.idx_j, second.idx_j)


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
