"""Documented limits of recognition routing (spec §6, §9 checks 13-14)."""

import numpy as np
import pytest

from prismlm.continual.learner import Prizma, PrizmaConfig
from prismlm.continual.metrics import average_accuracy
from prismlm.continual.protocol import run_stream
from prismlm.continual.runner import torch_threads
from prismlm.continual.streams import StructuredPermutedConfig, interleave, structured_permuted


def test_short_stream_never_commits_and_equals_no_routing():
    stream = structured_permuted(StructuredPermutedConfig(n_samples=1500), [0])
    learner = Prizma.variants(PrizmaConfig(), ["dfa", "noroute"], [0], 24, 8)
    with torch_threads(1):
        r = run_stream(learner, stream, epochs=3)
    assert learner.summary()["experts_committed"][0] == 0
    assert np.array_equal(r[0], r[1])


@pytest.mark.slow
def test_interleaved_domains_collapse_the_pool():
    stream = interleave(structured_permuted(StructuredPermutedConfig(), [0]))
    learner = Prizma(PrizmaConfig(), [0], 24, 8)
    with torch_threads(1):
        r = run_stream(learner, stream, epochs=15)
    assert learner.summary()["experts_trained"][0] <= 2
    assert 0.5 <= average_accuracy(r)[0] <= 0.65
