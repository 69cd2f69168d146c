"""The holographic memory layer: standalone (HoloMemory) and as PRISM's expert (memory_kind="holo")."""

import pytest
import torch

from prismlm.layers.experts import ExpertContext
from prismlm.layers.holo_memory import HoloMemory, HoloMemoryConfig, HoloMemoryExpert
from prismlm.layers.memory_tape import TapeThread
from prismlm.models.prism import PrismConfig, PrismLM
from prismlm.ops.holo_scan import holo_readout


def test_the_only_parameters_are_the_encoders():
    mem = HoloMemory(HoloMemoryConfig(d_model=32, dim=256, seed=0))
    assert {n for n, _ in mem.named_parameters()} == {"encoders.weight"}  # no q_proj / gates
    assert mem.encoders.weight.shape == (2 * 256, 32)  # W_k | W_v; the query reuses W_k
    frozen = HoloMemory(d_model=32, dim=256, trainable_encoders=False, seed=0)
    assert sum(p.numel() for p in frozen.parameters() if p.requires_grad) == 0
    expert = HoloMemoryExpert(d_model=16, d_mem=8, num_slots=4)
    assert {n for n, _ in expert.named_parameters()} == {"memory.encoders.weight"}
    model = PrismLM(PrismConfig(vocab_size=20, d_model=32, n_layers=3, d_mem=8, num_slots=6,
                                memory_kind="holo"))  # fmt: skip
    assert "tape_init" not in dict(model.named_parameters())  # H_0 is a zero buffer


def test_future_tokens_do_not_change_earlier_outputs():
    torch.manual_seed(0)
    mem = HoloMemory(d_model=16, dim=128, seed=1)
    x = torch.randn(2, 12, 16)
    x2 = x.clone()
    x2[:, 6:] = torch.randn(2, 6, 16)
    y, y2 = mem(x), mem(x2)
    assert torch.equal(y[:, :6], y2[:, :6])
    assert not torch.allclose(y[:, 6:], y2[:, 6:])


@pytest.mark.parametrize("key_shift", [0, 1, 3])
def test_step_matches_forward(key_shift):
    torch.manual_seed(1)
    mem = HoloMemory(d_model=16, dim=128, key_shift=key_shift, seed=2, chunk=4)
    x, tape = torch.randn(3, 9, 16), torch.randn(128)
    y = mem(x, tape=tape)
    state, outs = mem.init_state(3, tape=tape), []
    for t in range(9):
        y_t, state = mem.step(x[:, t], state)
        outs.append(y_t)
    torch.testing.assert_close(torch.stack(outs, 1), y)


def test_in_context_recall_and_facts_added_without_training():
    torch.manual_seed(2)
    mem = HoloMemory(d_model=64, dim=4096, seed=3)
    emb = torch.randn(50, 64)
    y = mem(emb[torch.tensor([[3, 7, 5, 9, 3]])])[0, -1]  # "3 7 … 3" -> recall 7
    assert torch.cosine_similarity(y[None], emb, dim=-1).argmax() == 7
    before = mem.encoders.weight.clone()
    tape = mem.write_facts(emb[[10, 11, 12]], emb[[20, 21, 22]])  # bound, no gradient
    assert not tape.requires_grad and torch.equal(mem.encoders.weight, before)
    y = mem(emb[torch.tensor([[11]])], tape=tape)[0, -1]
    assert torch.cosine_similarity(y[None], emb, dim=-1).argmax() == 21


def test_gradients_reach_both_encoders_through_the_straight_through_sign():
    mem = HoloMemory(d_model=8, dim=64, seed=4)
    mem(torch.randn(1, 6, 8)).pow(2).sum().backward()
    grad = mem.encoders.weight.grad
    assert grad[:64].abs().sum() > 0 and grad[64:].abs().sum() > 0  # W_k and W_v


def test_bad_input_names_the_field():
    mem = HoloMemory(d_model=8, dim=64)
    with pytest.raises(ValueError, match="x must be"):
        mem(torch.randn(2, 8))
    with pytest.raises(ValueError, match="tape must be"):
        mem(torch.randn(1, 3, 8), tape=torch.zeros(32))
    with pytest.raises(ValueError, match="key_shift"):
        HoloMemoryConfig(key_shift=-1)
    with pytest.raises(TypeError, match="not both"):
        HoloMemory(HoloMemoryConfig(), dim=64)


def test_the_expert_reads_back_a_value_bound_by_its_key():
    torch.manual_seed(0)
    d, d_mem, slots = 16, 8, 16
    expert = HoloMemoryExpert(d, d_mem, slots)
    D = d_mem * slots
    w = expert.memory.encoders.weight
    with torch.no_grad():  # make the query encoder equal to the key encoder
        w[2 * D :] = w[:D]
    a, other = torch.randn(d), torch.randn(d)
    ctx = ExpertContext(torch.tensor([0]), torch.ones(1), 1, 2, TapeThread(torch.zeros(slots, d_mem)))
    expert(a[None], ctx)  # route only t = 0 here: it writes k(a) ⊙ v(a)
    ctx2 = ExpertContext(torch.tensor([1]), torch.zeros(1), 1, 2, ctx.outputs["thread"])
    y = expert(a[None], ctx2)  # zero route weight: reads without writing
    w_v = expert.memory.value_weight
    expected = holo_readout(torch.sign(a @ w_v.T), w_v)
    torch.testing.assert_close(y[0], expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(expected, holo_readout(torch.sign(other @ w_v.T), w_v))


def test_the_expert_refuses_a_thread_written_by_a_slot_tape():
    expert = HoloMemoryExpert(8, 4, 2)
    maps = (torch.rand(1, 1, 2, 4), torch.rand(1, 1, 2, 4))
    ctx = ExpertContext(torch.tensor([0]), torch.ones(1), 1, 1, TapeThread(torch.zeros(2, 4), maps))
    with pytest.raises(ValueError, match="slot-tape"):
        expert(torch.randn(1, 8), ctx)
