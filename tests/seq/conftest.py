import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run the sequence-area tests on one thread: on a shared 2-core box, oversubscribed
    intra-op threads make tiny models many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
