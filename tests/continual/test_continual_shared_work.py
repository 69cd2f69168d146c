"""Work shared or skipped changes no bit: backprop/EWC/replay fork from one first task,
the oracle's task-0 nets are that task's nets, and noRoute runs skip the recognition pass of
experts they never use, EWC's λ = 0 runs skip the penalty. Each fast path is compared with
its from-scratch reference."""

import numpy as np
import pytest
import torch

from prismlm.continual.baselines import EWC, MLPConfig, fill_oracle_first_task, run_oracle, run_sgd
from prismlm.continual.learner import Prizma, PrizmaConfig
from prismlm.continual.protocol import run_stream
from prismlm.continual.runner import _jobs, torch_threads
from prismlm.continual.streams import StructuredPermutedConfig, structured_permuted

SEEDS = (0, 1)
EPOCHS = 2


@pytest.fixture(scope="module")
def stream():
    return structured_permuted(StructuredPermutedConfig(n_samples=600), SEEDS)


def test_forking_after_the_first_task_equals_training_each_learner_from_scratch(stream):
    names = ("backprop", "ewc", "replay")
    with torch_threads(1):
        shared = run_sgd(names, stream, MLPConfig(), EPOCHS, 64)
        scratch = run_sgd(names, stream, MLPConfig(), EPOCHS, 64, share_first_task=False)
    for n in names:
        assert np.array_equal(shared[n], scratch[n]), n
    # the learners do differ after the first boundary (the fork is not a copy of one run)
    assert not np.array_equal(shared["backprop"][:, 1:], shared["replay"][:, 1:])


def test_oracle_task_zero_nets_are_the_sgd_learners_first_task(stream):
    with torch_threads(1):
        full = run_oracle(stream, MLPConfig(), EPOCHS, 64)
        rest = run_oracle(stream, MLPConfig(), EPOCHS, 64, first=1)
        sgd = run_sgd(("ewc",), stream, MLPConfig(), EPOCHS, 64)["ewc"]
    assert np.isnan(rest[:, :, 0]).all() and np.array_equal(rest[:, :, 1:], full[:, :, 1:])
    fill_oracle_first_task(rest, sgd)
    assert np.array_equal(rest, full)


def test_unrouted_runs_skipping_unused_experts_change_no_bit():
    stream = structured_permuted(StructuredPermutedConfig(n_samples=1500), SEEDS)
    variants = ["dfa", "exact_reference", "noroute"]
    out = []
    for split in (True, False):
        learner = Prizma.variants(PrizmaConfig(), variants, SEEDS, 24, 8)
        learner.split_unrouted = split
        with torch_threads(1):
            r = run_stream(learner, stream, 3, 128)
        out.append((r, learner.params, learner.summary()))
    (r1, p1, s1), (r2, p2, s2) = out
    assert np.array_equal(r1, r2) and s1 == s2
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert max(s1["active"][:4]) >= 1 and s1["active"][4:] == [0, 0]  # both paths ran


def test_resuming_a_stream_needs_the_earlier_rows(stream):
    learner = Prizma(PrizmaConfig(), SEEDS, 24, 8)
    with pytest.raises(ValueError, match="earlier rows"):
        run_stream(learner, stream, 1, tasks=range(1, 5))


def test_jobs_group_the_sgd_learners_and_the_oracle_rest():
    e1 = ("backprop", "ewc", "replay", "oracle", "prizma_dfa", "noroute")
    assert _jobs(e1) == [("prizma", ("prizma_dfa", "noroute")),
                         ("sgd", ("backprop", "ewc", "replay")), ("oracle_rest", ("oracle",))]
    assert _jobs(("oracle",)) == [("oracle", ("oracle",))]
    assert _jobs(("ewc", "backprop")) == [("ewc", ("backprop", "ewc"))]
    assert _jobs(("replay", "oracle")) == [("replay", ("replay",)), ("oracle_rest", ("oracle",))]


def test_ewc_penalty_on_the_penalised_runs_only_equals_each_lambda_alone(stream):
    """λ = 0 runs skip the penalty; batched λs (contiguous or not) equal each λ on its own."""
    def r(lams):
        with torch_threads(1):
            return run_stream(EWC(MLPConfig(), SEEDS, 24, 8, lambdas=lams), stream, EPOCHS, 64)

    alone = {lam: r([lam]) for lam in (0.0, 20.0, 50.0)}
    assert np.array_equal(r([0.0, 50.0]), np.concatenate([alone[0.0], alone[50.0]]))
    assert np.array_equal(r([50.0, 0.0, 20.0]),
                          np.concatenate([alone[50.0], alone[0.0], alone[20.0]]))
    assert not np.array_equal(alone[0.0], alone[50.0])
