"""HoloHead: parameter-free memory path, causality, step == forward, knowledge without training."""

import torch

from prismlm.memory.holo_head import HoloHead, HoloHeadConfig


def test_memory_path_has_no_trainable_parameters():
    head = HoloHead(HoloHeadConfig(d_model=32, dim=256, seed=0))
    assert head.memory_path_parameters() == []
    names = {n for n, _ in head.named_parameters()}
    assert names == {"w_k", "w_v"}  # the encoders only: no q_proj / read_out / gates
    frozen = HoloHead(d_model=32, dim=256, trainable_encoders=False, seed=0)
    assert sum(p.numel() for p in frozen.parameters() if p.requires_grad) == 0


def test_future_tokens_do_not_change_earlier_outputs():
    torch.manual_seed(0)
    head = HoloHead(d_model=16, dim=128, seed=1)
    x = torch.randn(2, 12, 16)
    t = 5
    x2 = x.clone()
    x2[:, t + 1 :] = torch.randn(2, 12 - t - 1, 16)
    y, y2 = head(x), head(x2)
    assert torch.equal(y[:, : t + 1], y2[:, : t + 1])
    assert not torch.allclose(y[:, t + 1 :], y2[:, t + 1 :])


def test_step_matches_forward():
    torch.manual_seed(1)
    head = HoloHead(d_model=16, dim=128, key_shift=1, seed=2)
    x = torch.randn(3, 9, 16)
    tape = torch.randn(128)
    y = head(x, tape=tape)
    state = head.init_state(3, tape=tape)
    outs = []
    for t in range(9):
        yt, state = head.step(x[:, t], state)
        outs.append(yt)
    assert torch.allclose(torch.stack(outs, 1), y, atol=1e-5)


def test_in_context_recall_and_facts_added_without_training():
    torch.manual_seed(2)
    head = HoloHead(d_model=64, dim=4096, seed=3)
    emb = torch.randn(50, 64)
    ids = torch.tensor([[3, 7, 5, 9, 3]])  # "3 7 ... 3" -> recall 7
    y = head(emb[ids])[0, -1]
    assert torch.cosine_similarity(y[None], emb, dim=-1).argmax() == 7
    tape = head.write_facts(emb[[10, 11, 12]], emb[[20, 21, 22]])  # bound, no gradient
    y = head(emb[torch.tensor([[11]])], tape=tape)[0, -1]
    assert torch.cosine_similarity(y[None], emb, dim=-1).argmax() == 21


def test_gradients_reach_the_encoders():
    head = HoloHead(d_model=8, dim=64, seed=4)
    head(torch.randn(1, 6, 8)).pow(2).sum().backward()
    assert head.w_k.grad is not None and head.w_k.grad.abs().sum() > 0


def test_chunked_scan_matches_single_chunk():
    torch.manual_seed(3)
    head = HoloHead(d_model=16, dim=128, seed=5)
    x = torch.randn(2, 37, 16)
    head.chunk = 1000
    full = head(x)
    head.chunk = 8
    assert torch.allclose(head(x), full, atol=1e-5)
