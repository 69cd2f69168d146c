"""Mechanics of the training levers: curriculum phases and weights, loss-bucket re-weighting,
high-loss replay, and that the trainer resumes a lever run exactly and keys it by the levers."""

import pytest
import torch
from seq_standin import TinyGRUConfig, TinyGRULM

from prismlm.data import build_task
from prismlm.data.task import Batch
from prismlm.train import TrainConfig, train
from prismlm.train.curriculum import Curriculum, CurriculumConfig
from prismlm.train.levers import (
    HighLossReplay,
    LeverConfig,
    Levers,
    LossBucketReweighting,
    ReplayConfig,
    ReweightConfig,
)

MIX = {"name": "mix", "tasks": [{"name": "copy", "vocab_size": 6, "length": 3},
                                {"name": "arithmetic", "modulus": 4, "num_ops": 2}]}
SCHEDULE = CurriculumConfig(starts=(0.0, 0.1, 0.4, 0.9), weights=((1, 0), (3, 1), (1, 1), (0, 1)))


# ------------------------------------------------------------------------------- curriculum
def test_phases_follow_the_declared_starts_and_weights_are_normalised():
    cur = Curriculum(SCHEDULE, build_task(MIX), total_steps=1000)
    assert [cur.phase_at(s) for s in (0, 99, 100, 399, 400, 899, 900, 999)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert cur.weights_at(0) == (1.0, 0.0)
    assert cur.weights_at(150) == pytest.approx((0.75, 0.25))
    assert cur.weights_at(950) == (0.0, 1.0)


def test_without_smoothing_the_sampler_is_rebuilt_once_per_phase_and_draws_that_phase():
    mix = build_task(MIX)
    cur = Curriculum(SCHEDULE, mix, total_steps=20)  # phases start at steps 0, 2, 8, 18
    gen = torch.Generator().manual_seed(0)
    for step in range(20):
        batch = cur.batch(step, 8, gen)
        real = batch.inputs[batch.inputs != mix.pad_id]
        if step < 2:
            assert (real < mix.offsets[1]).all()  # copy only
        if step >= 18:
            assert (real >= mix.offsets[1]).all()  # arithmetic only
    assert cur.rebuilds == 4


def test_smoothing_ramps_linearly_from_the_previous_phase():
    cfg = CurriculumConfig(starts=(0.0, 0.5), weights=((1, 0), (0, 1)), smooth_steps=4)
    cur = Curriculum(cfg, build_task(MIX), total_steps=100)
    ramp = [cur.weights_at(s)[1] for s in range(49, 56)]
    assert ramp == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "kw, field",
    [({"starts": (0.1,), "weights": ((1, 1),)}, "starts"), ({"starts": (0.0, 0.5, 0.3)}, "starts"),
     ({"starts": (0.0,), "weights": ((1, 1), (1, 1))}, "weights"), ({"smooth_steps": -1}, "smooth_steps")],
)
def test_bad_schedules_name_the_field(kw, field):
    with pytest.raises(ValueError, match=f"'{field}'"):
        CurriculumConfig(**kw)


def test_a_curriculum_needs_a_mix_and_a_weight_per_task():
    with pytest.raises(TypeError, match="mix"):
        Curriculum(SCHEDULE, build_task({"name": "copy"}), 10)
    with pytest.raises(ValueError, match="'weights'"):
        Curriculum(CurriculumConfig(starts=(0.0,), weights=((1, 1, 1),)), build_task(MIX), 10)


# ------------------------------------------------------------------------------- re-weighting
def _losses():
    """90 easy tokens (CE 0.1), 10 hard ones (CE 5), 20 masked ones (CE 3, mask 0)."""
    ce = torch.cat([torch.full((90,), 0.1), torch.full((10,), 5.0), torch.full((20,), 3.0)])[None]
    mask = torch.cat([torch.ones(100), torch.zeros(20)])[None]
    return ce, mask


def test_rare_hard_tokens_outweigh_common_easy_ones_and_masked_tokens_get_zero():
    ce, mask = _losses()
    w = LossBucketReweighting(ReweightConfig(num_buckets=8)).weights(ce, mask)
    assert (w[0, 100:] == 0).all()
    assert w[0, 95] > 1.0 > w[0, 5]
    assert float(w[0, :100].mean()) == pytest.approx(1.0)  # the loss keeps the plain run's scale


def test_strength_zero_is_the_plain_loss_and_an_all_masked_batch_changes_nothing():
    ce, mask = _losses()
    assert torch.equal(LossBucketReweighting(ReweightConfig(strength=0.0)).weights(ce, mask), mask)
    rw = LossBucketReweighting(ReweightConfig())
    assert torch.equal(rw.weights(ce, torch.zeros_like(mask)), torch.zeros_like(mask))
    assert rw.scale is None and not rw.hist.any()


# ------------------------------------------------------------------------------- replay
def _rows(losses):
    n = len(losses)
    ids = torch.arange(n)[:, None].expand(n, 3).clone()
    return Batch(ids, ids, torch.ones(n, 3)), torch.tensor(losses)[:, None].expand(n, 3)


def test_the_buffer_keeps_the_highest_loss_rows_and_is_bounded():
    replay = HighLossReplay(ReplayConfig(capacity=3, fraction=0.5))
    batch, ce = _rows([0.1, 4.0, 0.2, 3.0, 5.0, 0.3])
    replay.observe(batch, ce)
    assert replay.rows.inputs[:, 0].tolist() == [4, 1, 3] and len(replay.losses) == 3


def test_injection_replaces_the_last_rows_with_the_hardest_and_keeps_the_token_count():
    replay = HighLossReplay(ReplayConfig(capacity=8, fraction=0.5))
    replay.observe(*_rows([0.1, 4.0, 0.2, 3.0]))
    fresh = Batch(torch.full((4, 3), 9), torch.full((4, 3), 9), torch.ones(4, 3))
    out = replay.inject(fresh)
    assert out.inputs.shape == fresh.inputs.shape
    assert out.inputs[:, 0].tolist() == [9, 9, 1, 3]
    assert sorted(replay.rows.inputs[:, 0].tolist()) == [0, 2] and replay.replayed == 2


# ------------------------------------------------------------------------------- in the trainer
CFG = dict(steps=12, batch_size=8, lr=5e-3, warmup=2, eval_every=4, eval_batches=1, checkpoint_every=4,
           device="cpu", plateau_patience=0)
ALL_ON = LeverConfig(SCHEDULE, ReweightConfig(), ReplayConfig(capacity=16))


def _run(run_dir=None, eval_fn=None, levers=ALL_ON):
    task = build_task(MIX)
    torch.manual_seed(0)
    model = TinyGRULM(TinyGRUConfig(vocab_size=task.vocab_size))
    res = train(model, task, TrainConfig(**CFG), run_dir, eval_fn=eval_fn,
                levers=Levers(levers, task, CFG["steps"]))
    return model, res


class _CrashAtEval:
    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, model):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return {}


def test_a_lever_run_resumes_exactly_where_an_uninterrupted_one_ends(tmp_path):
    ref_model, ref = _run()
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, eval_fn=_CrashAtEval(3))  # dies at step 12's eval; checkpoint at step 8
    model, res = _run(tmp_path)
    assert res.resumed_from == 8 and res.final["loss"] == pytest.approx(ref.final["loss"], rel=1e-6)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_levers_are_part_of_the_run_fingerprint(tmp_path):
    _run(tmp_path)
    with pytest.raises(ValueError, match="levers"):
        _run(tmp_path, levers=LeverConfig(SCHEDULE, ReweightConfig(strength=0.5), ReplayConfig(capacity=16)))


def test_a_lever_changes_the_training_trajectory():
    _, plain = _run(levers=LeverConfig())
    _, rw = _run(levers=LeverConfig(reweight=ReweightConfig()))
    assert plain.train_log[-1]["loss"] != rw.train_log[-1]["loss"]
