"""Arms are data: a name plus fields resolves to a model config; the Transformer can be
parameter-matched to any other arm."""

import dataclasses

import pytest

from prismlm.experiment.arms import resolve_arm
from prismlm.models import PrismConfig, SSMConfig, TransformerConfig, count_parameters

PRISM = {"model": "prism", "d_model": 32, "n_layers": 2, "d_mem": 8, "num_slots": 4}


def test_prism_and_ssm_arms_resolve_to_their_configs():
    prism = resolve_arm(PRISM, 20, 40)
    assert isinstance(prism, PrismConfig) and (prism.vocab_size, prism.max_len, prism.d_mem) == (20, 40, 8)
    ssm = resolve_arm({"model": "ssm", "d_state": 4}, 20, 40)
    assert isinstance(ssm, SSMConfig) and ssm.d_state == 4
    with pytest.raises(ValueError, match="'arm.d_modle'"):
        resolve_arm({"model": "ssm", "d_modle": 4}, 20, 40)


def test_transformer_matched_to_prism_has_the_closest_multiple_of_8_ffn():
    arm = {"model": "transformer", "d_model": 32, "n_layers": 2, "n_heads": 4, "match_to": PRISM}
    tf = resolve_arm(arm, 20, 40)
    assert isinstance(tf, TransformerConfig) and tf.d_ff % 8 == 0
    target = count_parameters(resolve_arm(PRISM, 20, 40))
    gap = abs(count_parameters(tf) - target)
    for other in (tf.d_ff - 8, tf.d_ff + 8):
        assert gap <= abs(count_parameters(dataclasses.replace(tf, d_ff=other)) - target)


def test_matching_a_target_of_another_width_is_an_error():
    arm = {"model": "transformer", "d_model": 16, "n_layers": 2, "n_heads": 4, "match_to": PRISM}
    with pytest.raises(ValueError, match="'arm.match_to'"):
        resolve_arm(arm, 20, 40)


def test_unmatched_transformer_uses_the_default_ffn():
    tf = resolve_arm({"model": "transformer", "d_model": 32, "n_heads": 4, "match": False}, 20, 40)
    assert tf.d_ff == TransformerConfig(20, 32, n_heads=4).d_ff
