"""The Phase-3 probe: the answer exists only in the seeded memory, and a small trained PrismLM
reads it there (seeded accuracy clears both controls by the probe's own MIN_GAP)."""

import pytest
import torch

from prismlm.layers.holo_memory import HoloMemory, contrastive_retrieval_loss
from prismlm.reproduce.knowledge import (
    MIN_GAP,
    KnowledgeProbeConfig,
    evaluate_arms,
    sample_batch,
    train_probe_model,
)

SMALL = dict(n_keys=8, n_values=8, n_pairs=2, d_model=32, d_mem=16, num_slots=8, lr=3e-3, eval_examples=256)


def test_answer_is_not_a_function_of_the_input():
    cfg = KnowledgeProbeConfig(**SMALL)
    b = sample_batch(cfg, 4096, torch.Generator().manual_seed(0))
    key = b["prompts"][0, 1]
    same_prompt = b["prompts"][:, 1] == key
    assert len(set(b["targets"][same_prompt].tolist())) == cfg.n_values  # every value occurs
    queried = (b["keys"] == b["prompts"][:, 1:]).int().argmax(1)  # the asked key is one of the pairs
    assert torch.equal(b["keys"][torch.arange(4096), queried], b["prompts"][:, 1])


@pytest.mark.parametrize("kind", ["tape", pytest.param("holo", marks=pytest.mark.slow)])
def test_trained_model_answers_from_seeded_memory(kind):
    cfg = KnowledgeProbeConfig(memory_kind=kind, steps=150, **SMALL)
    model, curve = train_probe_model(cfg, seed=0)
    acc = evaluate_arms(model, cfg, seed=0)
    assert acc["seeded"] - acc["unseeded"] >= MIN_GAP, acc
    assert acc["seeded"] - acc["mismatched"] >= MIN_GAP, acc


def test_contrastive_retrieval_loss_rewards_the_right_pairing():
    torch.manual_seed(0)
    mem = HoloMemory(d_model=16, dim=2048, separate_query=False)
    u_k, u_v = torch.randn(3, 4, 16), torch.randn(3, 4, 16)
    right = contrastive_retrieval_loss(mem, u_k, u_v)
    right.backward()
    assert mem.encoders.weight.grad.abs().sum() > 0
    assert right < 0.1  # D ≫ N: the bound value is recalled, cos ≈ 1/√N against ≈ 0
    with pytest.raises(ValueError, match="N >= 2"):
        contrastive_retrieval_loss(mem, u_k[:, :1], u_v[:, :1])
