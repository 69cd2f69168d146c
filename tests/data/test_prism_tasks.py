"""PRISM's tasks: chained arithmetic and the bundled char-level mini-LM."""

import pytest
import torch

from prismlm.data.arithmetic import ChainedArithmetic
from prismlm.data.mini_lm import MiniLM
from prismlm.data.registry import build_task


def test_chained_arithmetic_targets_are_the_running_result():
    task = ChainedArithmetic(modulus=7, num_ops=3, scratchpad=True)
    batch = task.sample(64, torch.Generator().manual_seed(0))
    assert batch.inputs.shape == (64, task.max_seq_len)
    assert int(batch.inputs.max()) < task.vocab_size
    for row, tgt, mask in zip(batch.inputs, batch.targets, batch.mask, strict=True):
        value = int(row[0])
        answers = []
        for i in range(3):
            d = int(row[2 + 2 * i])
            value = (value + d) % 7 if int(row[1 + 2 * i]) == 7 else (value - d) % 7
            answers.append(value)
        assert tgt[mask == 1].tolist() == answers
    plain = ChainedArithmetic().sample(8, torch.Generator().manual_seed(0))
    assert plain.mask.sum(1).eq(1).all()


def test_mini_lm_windows_are_next_character_pairs_from_disjoint_splits():
    task = MiniLM(seq_len=32)
    gen = torch.Generator().manual_seed(0)
    batch = task.sample(4, gen)
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    assert batch.mask.all() and int(batch.inputs.max()) < task.vocab_size
    assert task.eval_sample(2, gen).inputs.shape == (2, 32)
    with pytest.raises(ValueError, match="'seq_len'"):
        MiniLM(seq_len=100_000)


def test_tasks_are_registered_by_name():
    assert isinstance(build_task({"name": "arithmetic", "num_ops": 2}), ChainedArithmetic)
    assert isinstance(build_task({"name": "mini_lm", "seq_len": 16}), MiniLM)


