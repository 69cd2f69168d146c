"""The "mix" task: disjoint vocabularies, right padding with mask 0, weights honoured, determinism."""

import pytest
import torch

from prismlm.data import build_task

SPECS = [{"name": "arithmetic", "modulus": 5, "num_ops": 2}, {"name": "copy"}]


def _mix(**kw):
    return build_task({"name": "mix", "tasks": SPECS, **kw})


def test_components_keep_disjoint_ids_and_one_pad_id():
    mix = _mix()
    arith, copy = mix.components
    assert mix.offsets == (0, arith.vocab_size)
    assert mix.vocab_size == arith.vocab_size + copy.vocab_size + 1
    assert mix.max_seq_len == max(arith.max_seq_len, copy.max_seq_len)
    batch = mix.sample(64, torch.Generator().manual_seed(0))
    assert batch.inputs.shape == (64, mix.max_seq_len)
    assert int(batch.inputs.max()) < mix.vocab_size
    scored = batch.targets[batch.mask > 0]
    assert int(scored.max()) < mix.pad_id  # the pad id is never a target
    padded = batch.inputs == mix.pad_id
    assert (batch.mask[padded] == 0).all()


def test_a_weight_of_one_gives_rows_of_that_component_only():
    mix = _mix(weights=[0, 1])
    batch = mix.sample(32, torch.Generator().manual_seed(1))
    assert (batch.inputs[batch.inputs != mix.pad_id] >= mix.offsets[1]).all()
    only_arith = mix.with_weights([1, 0]).sample(32, torch.Generator().manual_seed(1))
    assert (only_arith.inputs[only_arith.inputs != mix.pad_id] < mix.offsets[1]).all()


def test_row_shares_follow_the_weights():
    mix = _mix(weights=[3, 1])  # normalised to 0.75 / 0.25
    assert mix.weights == pytest.approx((0.75, 0.25))
    batch = mix.sample(4000, torch.Generator().manual_seed(2))
    arith_rows = (batch.inputs[:, 0] < mix.offsets[1]).float().mean()
    assert abs(float(arith_rows) - 0.75) < 0.03  # ~4.4 binomial standard deviations


def test_the_same_generator_state_gives_the_same_batch_and_eval_weights_apply():
    a = _mix().sample(16, torch.Generator().manual_seed(3))
    b = _mix().sample(16, torch.Generator().manual_seed(3))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.mask, b.mask)
    ev = _mix(weights=[1, 0], eval_weights=[0, 1]).eval_sample(16, torch.Generator().manual_seed(3))
    assert (ev.inputs[ev.inputs != _mix().pad_id] >= _mix().offsets[1]).all()


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"tasks": []}, "tasks"),
        ({"weights": [1]}, "weights"),
        ({"weights": [-1, 2]}, "weights"),
        ({"weights": [0, 0]}, "weights"),
        ({"tasks": [{"name": "nope"}]}, "task"),
        ({"tasks": [{"name": "mix"}]}, "tasks"),
    ],
)
def test_bad_mixes_name_the_field(spec, field):
    with pytest.raises(ValueError, match=f"'{field}'"):
        build_task({"name": "mix", **({"tasks": SPECS} | spec)})
