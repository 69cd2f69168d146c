"""Presets: the reference's sizes and parameterisation, counted on the meta device."""

import dataclasses

import pytest
import torch

from prismlm.models import PrismConfig, TransformerConfig, build_model, count_parameters
from prismlm.models.presets import (
    PRESETS,
    REFERENCE_COUNTS,
    preset_config,
    prism_preset,
    prismlm_extra_parameters,
    reference_parameter_count,
)

PRISMLM_HEAD = dict(write_address="learned", expert_bias=True, learned_tape_init=True)


@pytest.mark.parametrize("name", list(PRESETS))
def test_reference_formula_gives_the_reference_counts(name):
    # the reference's figures are quoted to 0.1M: the closed form must round to them
    assert round(reference_parameter_count(prism_preset(name)) / 1e5) == round(REFERENCE_COUNTS[name] * 10)


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_counts_equal_the_reference_within_a_tenth_of_a_percent(name):
    cfg = prism_preset(name)
    assert abs(count_parameters(cfg) / reference_parameter_count(cfg) - 1) < 1e-3
    assert count_parameters(cfg) == reference_parameter_count(cfg)  # in fact exactly


@pytest.mark.parametrize("name", ["tiny", "350m"])
def test_prismlm_own_head_adds_the_address_head_biases_and_learned_tape(name):
    cfg = dataclasses.replace(prism_preset(name), **PRISMLM_HEAD)
    assert count_parameters(cfg) == reference_parameter_count(cfg) + prismlm_extra_parameters(cfg)


def test_700m_is_named_for_what_it_has():
    assert "700m" not in PRESETS and "846m" in PRESETS
    assert prism_preset("700m") == prism_preset("846m")
    assert round(count_parameters(prism_preset("846m")) / 1e6) == 846


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


def test_reference_options_are_validated_and_tape_only():
    with pytest.raises(ValueError, match="write_address"):
        PrismConfig(write_address="random")
    with pytest.raises(ValueError, match="write_address"):
        PrismConfig(memory_kind="holo", write_address="shared")
    with pytest.raises(ValueError, match="expert_bias"):
        PrismConfig(expert_bias=0)


def _small(**kw):
    return PrismConfig(vocab_size=32, d_model=32, n_layers=3, num_rates=4, d_mem=16, num_slots=8,
                       top_k=3, **kw)


@pytest.mark.parametrize("address", ["shared", "broadcast"])
def test_reference_memory_is_causal_and_decodes_like_the_forward(address):
    torch.manual_seed(0)
    model = build_model(_small(write_address=address, expert_bias=False, learned_tape_init=False)).eval()
    x = torch.randint(0, 32, (2, 10))
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 32
    with torch.no_grad():
        full = model(x)
        assert torch.equal(model(y)[:, :6], full[:, :6])
        state = model.init_state(2)
        steps = [model.step(x[:, t], state) for t in range(10)]
    torch.testing.assert_close(torch.stack([s[0] for s in steps], 1), full, rtol=1e-4, atol=1e-5)


def _final_tapes(address):
    torch.manual_seed(0)
    model = build_model(_small(write_address=address, learned_tape_init=False)).eval()
    with torch.no_grad():
        state = model.init_state(1)
        for t in torch.randint(0, 32, (12,)):
            model.step(t.view(1), state)
    return [b.tape for b in state.blocks if b.tape is not None]


def test_shared_address_writes_distinct_slots_where_broadcast_keeps_them_equal():
    # the reference's broadcast write from a zero tape leaves every slot a copy of slot 0 (its
    # degenerate memory); the shared address spreads writes over the slots
    for tape in _final_tapes("broadcast"):
        torch.testing.assert_close(tape, tape[:, :1].expand_as(tape))
    for tape in _final_tapes("shared"):
        assert (tape - tape[:, :1]).abs().max() > 1e-4


def test_default_prism_config_is_unchanged_by_the_reference_options():
    # logits of the default PrismConfig recorded before write_address / expert_bias /
    # learned_tape_init existed: the defaults must still build the same model from the same seed
    torch.manual_seed(0)
    model = build_model(PrismConfig()).eval()
    torch.manual_seed(1)
    x = torch.randint(0, 256, (2, 12))
    with torch.no_grad():
        y = model(x)
    recorded_last = torch.tensor([-0.317736, -0.089959, -0.025925, -0.328145, -0.002519, 0.088098])
    recorded_mid = torch.tensor([0.595718, 0.024790, -0.078853, 0.482484])
    torch.testing.assert_close(y[0, -1, :6], recorded_last, rtol=0, atol=2e-5)
    torch.testing.assert_close(y[1, 3, -4:], recorded_mid, rtol=0, atol=2e-5)
    assert abs(y.abs().mean().item() - 0.1803858) < 2e-6
