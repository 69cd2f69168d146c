import math

import pytest
import torch
from seq_standin import TinyGRUConfig, TinyGRULM

from prismlm.data.copy import Copy
from prismlm.data.induction import Induction
from prismlm.train import TrainConfig, lr_at, train
from prismlm.train.evaluation import masked_cross_entropy


def _sched(step, steps=80_000, warmup=2000):
    return lr_at(step, lr=1e-3, steps=steps, warmup=warmup, warmup_frac=0.0, min_lr_frac=0.1)


def test_schedule_warmup_then_monotone_cosine_to_floor():
    assert _sched(0) == pytest.approx(1e-3 / 2000)
    assert _sched(1999) == pytest.approx(1e-3)
    lrs = [_sched(s) for s in range(2000, 80_000, 97)] + [_sched(79_999)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
    assert min(lrs) >= 1e-4
    assert abs(_sched(79_999) - 1e-4) / 1e-4 < 1e-6


def test_warmup_uses_the_larger_of_absolute_and_fraction():
    lr = lr_at(0, lr=1.0, steps=1000, warmup=10, warmup_frac=0.2, min_lr_frac=0.1)
    assert lr == pytest.approx(1 / 200)


def test_masked_cross_entropy_counts_only_masked_positions():
    logits = torch.randn(2, 3, 5)
    targets = torch.randint(0, 5, (2, 3))
    mask = torch.tensor([[0.0, 1, 0], [1, 0, 0]])
    ref = torch.stack(
        [
            torch.nn.functional.cross_entropy(logits[0, 1:2], targets[0, 1:2]),
            torch.nn.functional.cross_entropy(logits[1, 0:1], targets[1, 0:1]),
        ]
    ).mean()
    assert masked_cross_entropy(logits, targets, mask) == pytest.approx(float(ref), rel=1e-6)


def test_train_config_rejects_bad_fields_by_name():
    with pytest.raises(ValueError, match="'lr'"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="'monitor'"):
        TrainConfig(monitor="f1")


def test_trainer_rejects_model_vocab_smaller_than_task():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="'vocab_size'"):
        train(
            TinyGRULM(TinyGRUConfig(vocab_size=8)),
            Induction(vocab_size=16, prefix_len=8),
            TrainConfig(steps=1),
        )


def test_trainer_learns_and_solve_stop_fires(tmp_path):
    torch.manual_seed(0)
    task = Copy(vocab_size=8, length=4)
    cfg = TrainConfig(
        steps=600,
        batch_size=32,
        lr=1e-2,
        warmup=20,
        eval_every=50,
        eval_batches=4,
        solve_threshold=0.9,
        log_every=10,
    )
    res = train(TinyGRULM(TinyGRUConfig(vocab_size=8, d_model=64)), task, cfg, run_dir=tmp_path)
    assert res.best["acc"] >= 0.9
    assert res.stop_reason == "solved" and res.steps < 600
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert any('"kind": "eval"' in ln for ln in lines)
    assert math.isfinite(res.final["loss"])


def test_plateau_rule_waits_for_min_step_and_floor():
    from prismlm.train.trainer import _EarlyStop

    cfg = TrainConfig(plateau_patience=2, plateau_min_step=4000, plateau_floor=0.5)
    stop = _EarlyStop(cfg)
    for step in range(1000, 4000, 500):  # flat at 0.9 but before step 4000
        assert stop.update(step, {"acc": 0.9}) is None
    assert stop.update(4000, {"acc": 0.9}) == "plateau"
    low = _EarlyStop(cfg)
    for step in range(0, 20_000, 500):  # flat below the engagement floor: never stops
        assert low.update(step, {"acc": 0.3}) is None


@pytest.mark.parametrize("monitor", ["loss", "acc"])
def test_any_monitor_works_with_the_progress_bar(monitor):
    # A regression guard: monitor="loss" once collided with the bar's own "loss" postfix.
    torch.manual_seed(0)
    cfg = TrainConfig(steps=4, batch_size=4, warmup=1, eval_every=2, eval_batches=1,
                      monitor=monitor, progress=True)
    res = train(TinyGRULM(TinyGRUConfig(vocab_size=8, d_model=16)), Copy(vocab_size=8, length=4), cfg)
    assert res.steps == 4 and res.stop_reason == "completed" and len(res.history) >= 2
