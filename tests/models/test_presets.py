"""Presets: the reference's sizes, counted on the meta device, and their documented deviation."""

import pytest

from prismlm.models import PrismConfig, TransformerConfig, count_parameters
from prismlm.models.presets import (
    PRESETS,
    REFERENCE_COUNTS,
    preset_config,
    prism_preset,
    prismlm_extra_parameters,
    reference_parameter_count,
)


@pytest.mark.parametrize("name", list(PRESETS))
def test_reference_formula_gives_the_reference_counts(name):
    # the reference's figures are quoted to 0.1M: the closed form must round to them
    assert round(reference_parameter_count(prism_preset(name)) / 1e5) == round(REFERENCE_COUNTS[name] * 10)


@pytest.mark.parametrize("name", list(PRESETS))
def test_prism_count_is_reference_plus_the_per_slot_write_head(name):
    cfg = prism_preset(name)
    assert count_parameters(cfg) == reference_parameter_count(cfg) + prismlm_extra_parameters(cfg)


def test_700m_is_named_for_what_it_has():
    assert "700m" not in PRESETS and "846m" in PRESETS
    assert prism_preset("700m") == prism_preset("846m")
    assert round(count_parameters(prism_preset("846m")) / 1e6) == 848


def test_holo_variant_uses_the_reference_tape_size():
    cfg = prism_preset("350m", holo=True)
    assert cfg.memory_kind == "holo" and cfg.d_mem * cfg.num_slots == 8192


@pytest.mark.parametrize("model", ["transformer", "prizma-seq"])
def test_matched_models_are_within_a_tenth_of_a_percent(model):
    target = count_parameters(prism_preset("tiny"))
    cfg = preset_config("tiny", model)
    assert abs(count_parameters(cfg) / target - 1) < 1e-3


def test_neural_hidden_mult_and_untied_head_change_the_count_as_stated():
    base = PrismConfig(vocab_size=64, d_model=32, n_layers=2, num_rates=4, d_mem=8, num_slots=4)
    wider = PrismConfig(**{**base.__dict__, "neural_hidden_mult": 3})
    untied = PrismConfig(**{**base.__dict__, "tie_embeddings": False})
    assert count_parameters(wider) - count_parameters(base) == 2 * 3 * 32 * 32  # +d per SwiGLU width
    assert count_parameters(untied) - count_parameters(base) == 64 * 32
    with pytest.raises(ValueError, match="neural_hidden_mult"):
        PrismConfig(neural_hidden_mult=0)
    with pytest.raises(ValueError, match="preset"):
        preset_config("2b")
    assert isinstance(preset_config("tiny", "transformer"), TransformerConfig)
