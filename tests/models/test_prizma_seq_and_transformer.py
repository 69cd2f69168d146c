"""Both models: decode == forward, causality, input validation, save/load, generation."""

import dataclasses

import pytest
import torch

from prismlm.models import SequenceLM
from prismlm.models.matching import count_parameters, match_transformer
from prismlm.models.prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from prismlm.models.transformer import TransformerConfig, TransformerLM

SMALL = dict(vocab_size=64, d_model=64, n_layers=2, n_heads=2)
CONFIGS = {
    "prizma-quad2": PrizmaSeqConfig(**SMALL, feat_n2=96),
    "prizma-none": PrizmaSeqConfig(**SMALL, feat_map="none"),
    "prizma-rand_linear-gated": PrizmaSeqConfig(**SMALL, feat_map="rand_linear", gated=True),
    "prizma-no-window-no-conv": PrizmaSeqConfig(**SMALL, use_window=False, short_conv=0),
    "prizma-learned-pos": PrizmaSeqConfig(**SMALL, learned_pos=True, max_len=64),
    "transformer": TransformerConfig(**SMALL),
}


def _build(name):
    cfg = CONFIGS[name]
    torch.manual_seed(0)
    return (PrizmaSeqLM if isinstance(cfg, PrizmaSeqConfig) else TransformerLM)(cfg).eval()


@pytest.mark.parametrize("name", CONFIGS)
def test_step_decoding_reproduces_forward_logits(name):
    model = _build(name)
    tokens = torch.randint(0, 64, (2, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(tokens)
        state, steps = model.init_state(2), []
        for t in range(tokens.shape[1]):
            logits, state = model.step(tokens[:, t], state)
            steps.append(logits)
    assert (torch.stack(steps, 1) - full).abs().max() < 1e-4


@pytest.mark.parametrize("name", CONFIGS)
def test_changing_future_tokens_leaves_past_logits_unchanged(name):
    model = _build(name)
    tokens = torch.randint(0, 64, (2, 64), generator=torch.Generator().manual_seed(2))
    t = 40
    altered = tokens.clone()
    altered[:, t + 1 :] = (altered[:, t + 1 :] + 1) % 64
    with torch.no_grad():
        a, b = model(tokens), model(altered)
    assert torch.equal(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("prompt_len", [1, 3, 20, 37])
def test_parallel_prefill_then_step_matches_forward(name, prompt_len):
    model = _build(name)
    tokens = torch.randint(0, 64, (2, 45), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(tokens)
        logits, state = model.prefill(tokens[:, :prompt_len])
        steps = [logits]
        for t in range(prompt_len, tokens.shape[1]):
            logits, state = model.step(tokens[:, t], state)
            steps.append(logits)
    assert (torch.stack(steps, 1) - full[:, prompt_len - 1 :]).abs().max() < 1e-4


def test_prizma_state_size_is_constant_while_kv_cache_grows():
    prizma, tf = _build("prizma-quad2"), _build("transformer")
    sizes = {}
    for model in (prizma, tf):
        state = model.init_state(1)
        counts = []
        with torch.no_grad():
            for t in range(40):
                _, state = model.step(torch.tensor([t % 64]), state)
                counts.append(state.num_floats())
        sizes[type(model).__name__] = counts
    assert len(set(sizes["PrizmaSeqLM"])) == 1
    assert sizes["TransformerLM"][-1] == 40 * sizes["TransformerLM"][0]


@pytest.mark.parametrize("name", ["prizma-quad2", "transformer"])
def test_bad_input_raises_clear_errors(name):
    model = _build(name)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, 2, 64]]))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.rand(1, 5))


def test_sequence_longer_than_max_len_is_rejected():
    with pytest.raises(ValueError, match="exceeds the configured max_len 64"):
        _build("prizma-learned-pos")(torch.zeros(1, 65, dtype=torch.long))
    tf = TransformerLM(TransformerConfig(**SMALL, max_len=16))
    with pytest.raises(ValueError, match="max_len 16"):
        tf(torch.zeros(1, 17, dtype=torch.long))


def test_impossible_shapes_fail_at_construction_naming_the_field():
    with pytest.raises(ValueError, match="'n_heads'"):
        PrizmaSeqConfig(vocab_size=10, d_model=64, n_heads=3)
    with pytest.raises(ValueError, match="'d_model'"):
        TransformerConfig(vocab_size=10, d_model=6, n_heads=2)  # odd head dim: no RoPE
    with pytest.raises(ValueError, match="'vocab_size'"):
        TransformerConfig(vocab_size=1)


@pytest.mark.parametrize("name", ["prizma-quad2", "transformer"])
def test_save_and_load_round_trip(tmp_path, name):
    model = _build(name)
    model.save_pretrained(tmp_path / name)
    loaded = SequenceLM.from_pretrained(tmp_path / name)
    assert type(loaded) is type(model) and loaded.config == model.config
    tokens = torch.randint(0, 64, (1, 20))
    with torch.no_grad():
        assert torch.equal(loaded(tokens), model(tokens))


@pytest.mark.parametrize("name", ["prizma-quad2", "transformer"])
def test_greedy_generation_continues_the_prompt(name):
    model = _build(name)
    prompt = torch.randint(0, 64, (2, 10))
    out = model.generate(prompt, max_new_tokens=6)
    assert out.shape == (2, 16) and torch.equal(out[:, :10], prompt)
    with torch.no_grad():  # first generated token is the argmax of the forward pass
        assert torch.equal(out[:, 10], model(prompt)[:, -1].argmax(-1))


def test_matched_transformer_is_within_one_percent_of_prizma():
    prizma = PrizmaSeqConfig(vocab_size=512, d_model=128, n_layers=4, n_heads=4)
    tf = match_transformer(prizma)
    assert abs(count_parameters(tf) / count_parameters(prizma) - 1) < 0.01
    assert dataclasses.replace(tf, d_ff=None).d_model == prizma.d_model
