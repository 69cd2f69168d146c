"""The token pipeline: packing, masking, mix weights, exact resume, rank shards, no network."""

import json
import math
import socket

import pytest
import torch

from prismlm.data.tokens import (
    SMOKE_TEXT,
    ByteTokenizer,
    DatasetSpec,
    Mix,
    MixedStream,
    TokenTask,
    load_mix,
    padded_vocab,
)
from prismlm.data.tokens.stream import POSITION_BASE
from prismlm.train.distributed import DistInfo, shard_rows


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_packing_puts_eos_between_documents_and_scores_every_token_once(tmp_path):
    docs = ["abc", "defgh", "ij"]
    path = _jsonl(tmp_path / "d.jsonl", [{"text": d} for d in docs])
    task = TokenTask(Mix([DatasetSpec(path)], seq_len=4))
    batch = task.windows(0, 3)
    eos = ByteTokenizer.eos_id
    stream = [t for d in docs for t in [*d.encode(), eos]]  # one pass: 13 tokens
    assert batch.targets.flatten().tolist() == stream[1:13]
    assert batch.inputs[1:, 0].tolist() == batch.targets[:-1, -1].tolist()  # stride T, no gap
    assert batch.mask.eq(1).all() and task.vocab_size == padded_vocab(257) == 320


def test_instruct_rows_mask_the_prompt(tmp_path):
    path = _jsonl(tmp_path / "i.jsonl", [{"instruction": "Q?", "output": "ANSWER"}])
    task = TokenTask(Mix([DatasetSpec(path, phase="instruct")], seq_len=40))
    b = task.windows(0, 1)
    scored = bytes(t for t in b.targets[0][b.mask[0] > 0].tolist() if t < 256)
    assert scored.startswith(b"ANSWER") and b"Q?" not in scored and b"###" not in scored
    with pytest.raises(ValueError, match="text_column"):
        TokenTask(Mix([DatasetSpec(path, text_column="body")], seq_len=8)).windows(0, 1)


def test_mix_weights_are_honoured_within_sampling_error(tmp_path):
    a = _jsonl(tmp_path / "a.jsonl", [{"text": "a" * 50}])
    b = _jsonl(tmp_path / "b.jsonl", [{"text": "b" * 50}])
    mix_file = tmp_path / "mix.json"
    mix_file.write_text(json.dumps({"seq_len": 4, "seed": 3, "datasets": [
        {"path": "a.jsonl", "weight": 0.7}, {"path": "b.jsonl", "weight": 0.3}]}))
    assert load_mix(mix_file).datasets[0].path == a and b
    stream = MixedStream(load_mix(mix_file), ByteTokenizer())
    n = 10_000
    share = sum(stream.next_window()[0] == 0 for _ in range(n)) / n
    assert abs(share - 0.7) < 4 * math.sqrt(0.7 * 0.3 / n)  # 4 standard errors


def test_resume_from_the_checkpointed_generator_is_exact():
    mix = Mix([DatasetSpec(str(SMOKE_TEXT))], seq_len=16, seed=1)
    straight, g = TokenTask(mix), torch.Generator().manual_seed(0)
    batches = [straight.sample(4, g).inputs for _ in range(5)]
    first, g1 = TokenTask(mix), torch.Generator().manual_seed(0)
    for _ in range(3):
        first.sample(4, g1)
    saved = g1.get_state()  # what the trainer's checkpoint stores
    resumed, g2 = TokenTask(mix), torch.Generator()
    g2.set_state(saved)
    assert g2.initial_seed() == POSITION_BASE + 12
    assert torch.equal(resumed.sample(4, g2).inputs, batches[3])
    assert torch.equal(resumed.sample(4, g2).inputs, batches[4])


def test_seek_equals_reading_through(tmp_path):
    rows = [[{"text": f"{i}" * (5 + 3 * j)} for j in range(4)] for i in range(3)]
    paths = [_jsonl(tmp_path / f"{i}.jsonl", r) for i, r in enumerate(rows)]
    mix = Mix([DatasetSpec(p, w) for p, w in zip(paths, (0.5, 0.3, 0.2), strict=True)], seq_len=6, seed=9)
    read = MixedStream(mix, ByteTokenizer())
    windows = [read.next_window() for _ in range(5000)]
    jump = MixedStream(mix, ByteTokenizer())
    jump.seek(4990)
    assert [jump.next_window() for _ in range(10)] == windows[4990:]


def test_each_rank_sees_different_windows():
    task = TokenTask(Mix([DatasetSpec(str(SMOKE_TEXT))], seq_len=16))
    batch = task.windows(0, 8).inputs
    shards = [batch[shard_rows(8, DistInfo(rank=r, world_size=2))] for r in (0, 1)]
    assert not any(torch.equal(x, y) for x in shards[0] for y in shards[1])
    stream = MixedStream(Mix([DatasetSpec(str(SMOKE_TEXT))], seq_len=16), ByteTokenizer())
    it0 = stream.rank_windows(0, 2)
    assert next(it0)[0] == batch[0].tolist() + [batch[1, 0].item()]


def test_bad_input_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="weight"):
        DatasetSpec("x", weight=-1)
    with pytest.raises(ValueError, match="path"):
        TokenTask(Mix([DatasetSpec(str(tmp_path / "missing*.txt"))], seq_len=8)).windows(0, 1)
    with pytest.raises(ValueError, match="phase"):
        DatasetSpec("x", phase="chat")
