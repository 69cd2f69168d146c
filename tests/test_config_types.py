"""Config fields are checked against their annotations at construction, naming the field."""

import math

import pytest

from prismlm.models import PrismConfig, PrizmaSeqConfig, SSMConfig, TransformerConfig, build_model


@pytest.mark.parametrize(
    "field, value",
    [("vocab_size", 16.5), ("d_model", True), ("n_layers", 2.0), ("max_len", "64"), ("d_ff", 3.5)],
)
def test_lm_configs_reject_wrong_types(field, value):
    for cls in (PrizmaSeqConfig, TransformerConfig):
        kwargs = {"vocab_size": 32, "d_model": 16, "n_layers": 1, "n_heads": 2, field: value}
        with pytest.raises(ValueError, match=f"'{field}'"):
            cls(**kwargs)


@pytest.mark.parametrize("value", [math.inf, math.nan, -1.0, 0.0])
def test_a_non_positive_or_non_finite_norm_eps_is_rejected_when_the_model_is_built(value):
    for cfg in (PrismConfig(vocab_size=32, d_model=16, norm_eps=value),
                SSMConfig(vocab_size=32, d_model=16, norm_eps=value)):
        with pytest.raises(ValueError, match="norm_eps"):
            build_model(cfg)


def test_bool_fields_reject_ints_and_optional_fields_accept_none():
    with pytest.raises(ValueError, match="'use_window'"):
        PrizmaSeqConfig(vocab_size=32, d_model=16, n_layers=1, n_heads=2, use_window=1)
    assert PrizmaSeqConfig(vocab_size=32, d_model=16, n_layers=1, n_heads=2, d_ff=None).d_ff is None


@pytest.mark.parametrize(
    "field, value", [("steps", 5.5), ("lr", math.inf), ("lr", math.nan), ("batch_size", True), ("seed", "0")]
)
def test_train_config_rejects_wrong_types_naming_the_field(field, value):
    from prismlm.train import TrainConfig

    with pytest.raises(ValueError, match=f"'{field}'"):
        TrainConfig(**{field: value})
