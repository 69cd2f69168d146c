"""Prizma-Seq and the Transformer baseline beyond the shared interface (tests/models/test_interface.py):
every Prizma ablation variant decodes like its forward pass, length limits, config checks and
parameter matching."""

import pytest
import torch

from prismlm.models.matching import count_parameters, match_transformer
from prismlm.models.prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from prismlm.models.transformer import TransformerConfig, TransformerLM

SMALL = dict(vocab_size=64, d_model=32, n_layers=2, n_heads=2)
ATOL = 1e-4  # decode vs forward: recurrent vs chunked delta rule, float32 rounding
VARIANTS = {
    "none": PrizmaSeqConfig(**SMALL, feat_map="none", chunk_size=16),
    "rand_linear-gated": PrizmaSeqConfig(**SMALL, feat_map="rand_linear", gated=True, chunk_size=16),
    "no-window-no-conv": PrizmaSeqConfig(**SMALL, use_window=False, short_conv=0, chunk_size=16),
    "learned-pos": PrizmaSeqConfig(**SMALL, feat_n2=24, learned_pos=True, max_len=64, chunk_size=16),
}


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("prompt_len", [0, 1, 21])
def test_every_ablation_variant_decodes_like_forward(name, prompt_len):
    torch.manual_seed(0)
    model = PrizmaSeqLM(VARIANTS[name]).eval()
    tokens = torch.randint(0, 64, (2, 37), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(tokens)
        if prompt_len:
            logits, state = model.prefill(tokens[:, :prompt_len])
            steps = [logits]
        else:
            state, steps = model.init_state(2), []
        for t in range(prompt_len, tokens.shape[1]):
            logits, state = model.step(tokens[:, t], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full[:, max(prompt_len - 1, 0):], atol=ATOL, rtol=0)


def test_sequence_longer_than_max_len_is_rejected():
    with pytest.raises(ValueError, match="exceeds the configured max_len 64"):
        PrizmaSeqLM(VARIANTS["learned-pos"])(torch.zeros(1, 65, dtype=torch.long))
    tf = TransformerLM(TransformerConfig(**SMALL, max_len=16))
    with pytest.raises(ValueError, match="max_len 16"):
        tf(torch.zeros(1, 17, dtype=torch.long))
    _, state = tf.prefill(torch.zeros(1, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="decode position 16 exceeds max_len 16"):
        tf.step(torch.zeros(1, dtype=torch.long), state)


def test_impossible_shapes_fail_at_construction_naming_the_field():
    with pytest.raises(ValueError, match="'n_heads'"):
        PrizmaSeqConfig(vocab_size=10, d_model=64, n_heads=3)
    with pytest.raises(ValueError, match="'d_model'"):
        TransformerConfig(vocab_size=10, d_model=6, n_heads=2)  # odd head dim: no RoPE
    with pytest.raises(ValueError, match="'vocab_size'"):
        TransformerConfig(vocab_size=1)


def test_matched_transformer_is_within_one_percent_of_prizma():
    prizma = PrizmaSeqConfig(vocab_size=512, d_model=128, n_layers=4, n_heads=4)
    tf = match_transformer(prizma)
    assert abs(count_parameters(tf) / count_parameters(prizma) - 1) < 0.01
    shape = ("vocab_size", "d_model", "n_layers", "n_heads")
    assert [getattr(tf, f) for f in shape] == [getattr(prizma, f) for f in shape]
    assert tf.d_ff % 8 == 0
