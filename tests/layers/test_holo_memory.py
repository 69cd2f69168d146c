"""PRISM's holographic memory expert (memory_kind="holo"): fixed algebra, exact recall."""

import math

import torch

from prismlm.layers.experts import ExpertContext
from prismlm.layers.holo_memory import HoloMemoryExpert
from prismlm.layers.memory_tape import TapeThread
from prismlm.models.prism import PrismConfig, PrismLM


def test_holo_memory_path_has_no_trainable_parameters():
    expert = HoloMemoryExpert(d_model=16, d_mem=8, num_slots=4)
    assert expert.memory_path_parameters() == []
    model = PrismLM(PrismConfig(vocab_size=20, d_model=32, n_layers=3, d_mem=8, num_slots=6,
                                memory_kind="holo"))
    assert "tape_init" not in dict(model.named_parameters())  # H_0 is a zero buffer


def test_a_bound_value_is_read_back_by_its_key():
    torch.manual_seed(0)
    d, d_mem, slots = 16, 8, 16
    expert = HoloMemoryExpert(d, d_mem, slots)
    D = d_mem * slots
    with torch.no_grad():  # make the query encoder equal to the key encoder
        expert.encoders.weight[2 * D :] = expert.encoders.weight[:D]
    a, other = torch.randn(d), torch.randn(d)
    x = torch.stack((a, a))[None]  # token a written at t = 0, asked again at t = 1
    ctx = ExpertContext(torch.tensor([0]), torch.ones(1), 1, 2, TapeThread(torch.zeros(slots, d_mem)))
    expert(x[0, :1], ctx)  # route only t = 0 here: it writes k(a) ⊙ v(a)
    thread = ctx.outputs["thread"]
    ctx2 = ExpertContext(torch.tensor([1]), torch.zeros(1), 1, 2, thread)  # zero weight: no write
    y = expert(x[0, 1:], ctx2)
    w_v = expert.encoders.weight[D : 2 * D]
    value = torch.sign(a @ w_v.T)
    expected = (value @ w_v) * math.sqrt(d) / D
    torch.testing.assert_close(y[0], expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(expected, (torch.sign(other @ w_v.T) @ w_v) * math.sqrt(d) / D)
