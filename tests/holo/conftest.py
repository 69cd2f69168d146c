"""Holo tests run single-threaded: on a shared CPU, small ops under OpenMP contention can be
orders of magnitude slower than on one thread. The previous setting is restored afterwards."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
