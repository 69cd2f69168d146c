import pytest
import torch

from prismlm.data.copy import Copy
from prismlm.data.induction import Induction, MixedInduction
from prismlm.data.mqar import MQAR, MixedMQAR
from prismlm.data.registry import build_task
from prismlm.data.selective_copy import SelectiveCopy, fixed_positions


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_mqar_keys_values_mask_and_targets_follow_the_protocol():
    task = MQAR(vocab_size=64, num_pairs=8, num_queries=16)
    b = task.sample(32, _gen())
    n_key = 32
    assert b.inputs.shape == (32, 2 * 8 + 16) == b.mask.shape
    keys, values = b.inputs[:, 0:16:2], b.inputs[:, 1:16:2]
    for row in range(32):
        assert len(set(keys[row].tolist())) == 8
    assert keys.min() >= 1 and keys.max() < n_key
    assert values.min() >= n_key and values.max() < 64
    assert (b.mask.sum(1) == 16).all()
    for row in range(32):
        bind = dict(zip(keys[row].tolist(), values[row].tolist(), strict=True))
        for t in range(16, 32):
            assert b.targets[row, t] == bind[int(b.inputs[row, t])]


def test_tasks_are_pure_functions_of_the_seed():
    for task in [MQAR(64, 8), Induction(32, 32), SelectiveCopy(), Copy(), MixedMQAR(64, 8, 16)]:
        a, b = task.sample(4, _gen(3)), task.sample(4, _gen(3))
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
        assert not torch.equal(a.inputs, task.sample(4, _gen(4)).inputs)


def test_mixed_mqar_trains_at_varied_difficulty_and_evaluates_at_the_max():
    task = MixedMQAR(vocab_size=64, max_pairs=8, num_queries=16)
    gen = _gen()
    lengths = {task.sample(2, gen).inputs.shape[1] for _ in range(40)}
    assert len(lengths) > 2 and max(lengths) <= task.max_seq_len
    assert task.eval_sample(2, gen).inputs.shape[1] == task.max_seq_len == 32


def test_induction_has_a_once_in_prefix_and_target_differs():
    b = Induction(vocab_size=32, prefix_len=64).sample(256, _gen())
    a, target = b.inputs[:, -1], b.targets[:, -1]
    assert ((b.inputs[:, :-1] == a[:, None]).sum(1) == 1).all()
    assert (target != a).all()
    pos = (b.inputs[:, :-1] == a[:, None]).float().argmax(1)
    assert torch.equal(b.inputs[torch.arange(256), pos + 1], target)
    assert (b.mask.sum(1) == 1).all() and (b.mask[:, -1] == 1).all()


def test_mixed_induction_evaluates_at_the_longest_prefix():
    task = MixedInduction(lengths=(16, 32))
    assert task.eval_sample(2, _gen()).inputs.shape[1] == 33 == task.max_seq_len


def test_selective_copy_mask_covers_k_positions_reproducing_the_data_in_order():
    task = SelectiveCopy(vocab_size=32, mem_len=64, n_data=16)
    b = task.sample(16, _gen())
    assert b.inputs.shape[1] == 81
    assert (b.mask.sum(1) == 16).all() and (b.mask[:, 64:80] == 1).all()
    memory = b.inputs[:, :64]
    for row in range(16):
        data = memory[row][memory[row] != 0]
        assert torch.equal(b.targets[row, 64:80], data)
    assert (b.inputs[:, 64] == 31).all()


def test_fixed_positions_control():
    assert fixed_positions(64, 16).tolist()[:6] == [0, 4, 8, 12, 16, 21]
    assert fixed_positions(64, 16).tolist()[-1] == 63
    b = SelectiveCopy(fixed=True).sample(4, _gen())
    assert (b.inputs[:, fixed_positions(64, 16)] != 0).all()


def test_copy_targets_the_whole_sequence():
    b = Copy(vocab_size=8, length=5).sample(3, _gen())
    assert torch.equal(b.targets[:, 5:10], b.inputs[:, :5]) and (b.mask.sum(1) == 5).all()


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"name": "mqarr"}, "'task'"),
        ({"name": "mqar", "vocab_size": 9, "num_pairs": 8}, "'vocab_size'"),
        ({"name": "mqar", "num_pairs": 0}, "'num_pairs'"),
        ({"name": "induction", "prefix_len": 2}, "'prefix_len'"),
        ({"name": "selective_copy", "mem_len": 4, "n_data": 8}, "'mem_len'"),
        ({"name": "mqar", "depth": 3}, "'task.depth'"),
    ],
)
def test_bad_task_configs_name_the_field(spec, field):
    with pytest.raises(ValueError, match=field):
        build_task(spec)
