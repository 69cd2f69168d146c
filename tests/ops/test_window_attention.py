import pytest
import torch

from prismlm.ops.window_attention import (
    sliding_window_attention,
    sliding_window_attention_reference,
)


@pytest.mark.parametrize("T,window", [(200, 16), (33, 16), (100, 7), (64, 1)])
def test_blocked_window_matches_dense_mask(T, window):
    g = torch.Generator().manual_seed(T)
    q, k, v = (torch.randn(2, 3, T, 8, generator=g) for _ in range(3))
    ref = sliding_window_attention_reference(q, k, v, window)
    assert torch.allclose(sliding_window_attention(q, k, v, window), ref, atol=1e-5)


def test_no_position_attends_beyond_the_window():
    T, window = 120, 16
    q, k, v = (torch.randn(1, 1, T, 8) for _ in range(3))
    base = sliding_window_attention(q, k, v, window)
    v2 = v.clone()
    v2[:, :, 50] += 100.0  # only positions 50..65 may change
    changed = (sliding_window_attention(q, k, v2, window) - base).abs().amax(dim=(0, 1, 3)) > 0
    assert changed.nonzero().flatten().tolist() == list(range(50, 50 + window))
