"""Acceptance check 13 (spec §8): tiny MQAR is learned by Prizma-Seq on CPU in 1000 steps."""

import pytest
import torch

from prismlm.data.mqar import MQAR
from prismlm.experiment.arms import build_arm
from prismlm.train import TrainConfig, train


@pytest.mark.slow
@pytest.mark.parametrize(
    "arm",
    [
        {"model": "prizma-none"},
        {"model": "prizma-quad2", "feat_n2": 96},
    ],
)
def test_tiny_mqar_is_learned_in_1000_steps(arm):
    task = MQAR(vocab_size=32, num_pairs=4, num_queries=16)
    torch.manual_seed(0)
    model = build_arm({**arm, "d_model": 64, "n_layers": 2, "n_heads": 2}, 32, task.max_seq_len)
    cfg = TrainConfig(
        steps=1000,
        batch_size=64,
        lr=2e-3,
        warmup=150,
        warmup_frac=0.0,
        eval_every=250,
        eval_batches=8,
        plateau_patience=0,
    )
    result = train(model, task, cfg)
    assert result.best["acc"] >= 0.99
