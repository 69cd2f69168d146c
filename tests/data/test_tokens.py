"""The token pipeline: packing, masking, mix weights, exact resume, rank shards, no network."""

import importlib.util
import json
import math
import socket
import sys

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
    sources,
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


DOCS = ["first document", "a second, longer document", "third", "the fourth and last one"]


def _parquet(path, rows, row_group_size=2):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return str(path)


def test_parquet_rows_pack_like_the_same_jsonl_rows(tmp_path):
    rows = [{"body": d, "id": i} for i, d in enumerate(DOCS)]
    parquet = _parquet(tmp_path / "d.parquet", rows)  # two row groups: read across their border
    jsonl = _jsonl(tmp_path / "d.jsonl", rows)
    from_parquet = TokenTask(Mix([DatasetSpec(parquet, text_column="body")], seq_len=8)).windows(0, 10)
    from_jsonl = TokenTask(Mix([DatasetSpec(jsonl, text_column="body")], seq_len=8)).windows(0, 10)
    assert torch.equal(from_parquet.inputs, from_jsonl.inputs)
    eos = ByteTokenizer.eos_id
    stream = [t for d in DOCS for t in [*d.encode(), eos]]
    assert from_parquet.inputs.flatten().tolist()[: len(stream)] == stream  # documents in order


def test_parquet_stream_resumes_exactly(tmp_path):
    rows = [{"text": f"row {i} " * (1 + i % 5)} for i in range(40)]
    mix = Mix([DatasetSpec(_parquet(tmp_path / "r.parquet", rows, row_group_size=7))], seq_len=12, seed=2)
    straight, g = TokenTask(mix), torch.Generator().manual_seed(0)
    batches = [straight.sample(4, g).inputs for _ in range(6)]
    first, g1 = TokenTask(mix), torch.Generator().manual_seed(0)
    for _ in range(4):
        first.sample(4, g1)
    resumed, g2 = TokenTask(mix), torch.Generator()
    g2.set_state(g1.get_state())
    assert [resumed.sample(4, g2).inputs.tolist() for _ in range(2)] == [b.tolist() for b in batches[4:]]


class FakeStreamingDataset:
    """Stands in for `datasets.load_dataset(..., streaming=True)`: an iterable of row dicts that
    can be iterated again from the start (as an IterableDataset can)."""

    def __init__(self, rows):
        self.rows, self.passes = rows, 0

    def __iter__(self):
        self.passes += 1
        yield from (dict(r) for r in self.rows)


@pytest.fixture
def fake_datasets(monkeypatch):
    import types

    calls = []
    module = types.ModuleType("datasets")

    def load_dataset(path, name=None, split=None, streaming=False):
        calls.append({"path": path, "name": name, "split": split, "streaming": streaming})
        return FakeStreamingDataset([{"content": d} for d in DOCS * 3])

    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    return calls


def test_hf_streaming_adapter_reads_the_named_split_and_packs_like_local_rows(fake_datasets, tmp_path):
    spec = DatasetSpec("hf:org/corpus", text_column="content", config="sample-10BT", split="train")
    hub = TokenTask(Mix([spec], seq_len=8)).windows(0, 12)
    assert fake_datasets[0] == {
        "path": "org/corpus", "name": "sample-10BT", "split": "train", "streaming": True
    }
    local = _jsonl(tmp_path / "same.jsonl", [{"content": d} for d in DOCS * 3])
    assert torch.equal(hub.inputs, TokenTask(Mix([DatasetSpec(local, text_column="content")], seq_len=8))
                       .windows(0, 12).inputs)
    capped = list(sources.rows(DatasetSpec("hf:org/corpus", text_column="content", max_samples=5)))
    assert len(capped) == 5


def test_hf_streaming_resume_replays_the_stream_to_the_same_position(fake_datasets):
    mix = Mix([DatasetSpec("hf:org/corpus", text_column="content")], seq_len=6, seed=4)
    straight, g = TokenTask(mix), torch.Generator().manual_seed(0)
    batches = [straight.sample(3, g).inputs for _ in range(5)]
    resumed, g2 = TokenTask(mix), torch.Generator()
    g2.manual_seed(POSITION_BASE + 9)  # the generator state a checkpoint after 3 batches holds
    assert torch.equal(resumed.sample(3, g2).inputs, batches[3])
    assert torch.equal(resumed.sample(3, g2).inputs, batches[4])


def test_hf_path_without_datasets_installed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # what an absent package looks like to import
    spec = DatasetSpec("hf:HuggingFaceFW/fineweb-edu")
    with pytest.raises(ValueError, match=r"hf:HuggingFaceFW/fineweb-edu.*pip install datasets"):
        TokenTask(Mix([spec], seq_len=8)).windows(0, 1)


@pytest.mark.skipif(importlib.util.find_spec("datasets") is not None, reason="datasets is installed")
def test_hf_path_fails_clearly_in_this_environment_without_datasets():
    with pytest.raises(ValueError, match="pip install datasets"):
        list(sources.rows(DatasetSpec("hf:org/corpus")))
