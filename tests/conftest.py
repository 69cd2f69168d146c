import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run every test on one intra-op thread: on a shared 2-core box, oversubscribed OpenMP
    threads make tiny models many times slower. The previous setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
