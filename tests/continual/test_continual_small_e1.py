"""The spec's small stream (T=5, 3 epochs, seeds 0-2): routing gives zero forgetting, the
no-routing ablation forgets, and the batched learner equals the plain per-seed loop."""

import numpy as np
import pytest
import torch

from prismlm.continual.baselines import EWC, MLPConfig
from prismlm.continual.learner import Prizma, PrizmaConfig
from prismlm.continual.metrics import average_accuracy as acc
from prismlm.continual.metrics import forgetting as fgt
from prismlm.continual.protocol import epoch_batches, run_stream
from prismlm.continual.reference import ReferencePrizma
from prismlm.continual.runner import routing_purity, torch_threads
from prismlm.continual.streams import Stream, StructuredPermutedConfig, structured_permuted

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def stream():
    return structured_permuted(StructuredPermutedConfig(), SEEDS)


@pytest.fixture(scope="module")
def prizma_run(stream):
    learner = Prizma.variants(PrizmaConfig(), ["dfa", "noroute"], SEEDS, 24, 8)
    with torch_threads(1):
        r = run_stream(learner, stream, epochs=3)
    return learner, r[:3], r[3:]


def test_routed_learner_does_not_forget(prizma_run):
    _, dfa, _ = prizma_run
    assert fgt(dfa).max() <= 0.005
    assert acc(dfa).min() >= 0.65
    for i in range(5):
        for j in range(i + 1):
            assert np.allclose(dfa[:, i, j], dfa[:, j, j])


def test_no_routing_ablation_forgets(prizma_run):
    _, _, noroute = prizma_run
    assert fgt(noroute).mean() >= 0.3
    assert acc(noroute).mean() <= 0.5


def test_phase_detector_commits_one_expert_per_domain(prizma_run):
    learner, _, _ = prizma_run
    summary = learner.summary()
    assert summary["experts_committed"][:3] == [4, 4, 4]
    assert summary["active"][:3] == [4, 4, 4]
    assert (learner.state["n_seen"][:3, 5:] == 0).all()


def test_test_time_routing_is_pure(prizma_run, stream):
    learner, _, _ = prizma_run
    assert routing_purity(learner, stream)[:3].min() >= 0.99


def test_backprop_forgets_on_the_same_stream(stream):
    with torch_threads(1):
        r = run_stream(EWC(MLPConfig(), SEEDS, 24, 8, lambdas=[0.0]), stream, epochs=3)
    assert fgt(r).mean() >= 0.4


def test_batched_learner_matches_the_per_seed_reference_loop(stream, prizma_run):
    _, dfa, _ = prizma_run
    ref = ReferencePrizma(PrizmaConfig(), seed=0, n_in=24, n_classes=8)
    perms = epoch_batches([0], 5, 4800, 3)[0].numpy()
    x, y = stream.x_train[0].numpy(), stream.y_train[0].numpy()
    r = np.zeros((5, 5))
    for t in range(5):
        for e in range(3):
            for b in range(0, 4800, 128):
                idx = perms[t, e, b:b + 128]
                ref.observe(x[t, idx], y[t, idx])
        for j in range(5):
            r[t, j] = (ref.predict(stream.x_test[0, j].numpy())
                       == stream.y_test[0, j].numpy()).mean()
    assert np.abs(r - dfa[0]).max() <= 0.01


def test_capacity_overflow_drops_domains_without_error(stream):
    learner = Prizma(PrizmaConfig(n_experts=3), SEEDS[:1], 24, 8)
    one = Stream(stream.name, (0,), 8, stream.x_train[:1], stream.y_train[:1],
                 stream.x_test[:1], stream.y_test[:1])
    with torch_threads(1):
        r = run_stream(learner, one, epochs=3)
    assert learner.summary()["active"] == [3]
    assert learner.summary()["batches_dropped"][0] > 0
    assert abs(fgt(r)[0]) <= 0.005


def test_mismatched_input_dimension_is_a_clear_error(stream):
    learner = Prizma(PrizmaConfig(), SEEDS, 16, 8)
    with pytest.raises(ValueError, match="input dimension"):
        run_stream(learner, stream, epochs=1)
    with pytest.raises(ValueError, match="input dimension"):
        learner.observe(torch.zeros(3, 8, 24), torch.zeros(3, 8, dtype=torch.long))


def test_nan_batch_is_a_clear_error():
    learner = Prizma(PrizmaConfig(), SEEDS, 24, 8)
    x = torch.zeros(3, 8, 24)
    x[1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        learner.observe(x, torch.zeros(3, 8, dtype=torch.long))


def test_invalid_learner_config_names_the_field():
    with pytest.raises(ValueError, match="n_experts"):
        PrizmaConfig(n_experts=0)
