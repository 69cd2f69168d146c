"""Checkpoints are data, never code: planted pickles, escaping paths and damaged files are refused
or skipped with a message that names the file."""

import json
import os
import pickle

import pytest
import torch
from seq_standin import TinyGRUConfig, TinyGRULM

from prismlm.data.copy import Copy
from prismlm.io import confined_path
from prismlm.train import TrainConfig, train
from prismlm.train.checkpoint import (
    LATEST,
    CheckpointError,
    CheckpointWarning,
    clean_checkpoints,
    latest_step,
    state_name,
    weights_name,
)

CFG = TrainConfig(steps=20, batch_size=8, lr=5e-3, warmup=2, eval_every=10, eval_batches=1,
                  checkpoint_every=10, keep_checkpoints=2, device="cpu")
TASK = Copy(vocab_size=8, length=4)


def _model():
    torch.manual_seed(0)
    return TinyGRULM(TinyGRUConfig(vocab_size=8, d_model=16))


class _Payload:
    """Unpickling this would create `marker`: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _finished_run(tmp_path):
    run = tmp_path / "run"
    train(_model(), TASK, CFG, run)
    return run, run / "checkpoints"


@pytest.mark.parametrize("where", ["old .pt name", "over the state file", "over the weights"])
def test_a_planted_pickle_payload_is_never_executed(tmp_path, where):
    run, ckpt = _finished_run(tmp_path)
    marker = tmp_path / "PWNED"
    payload = pickle.dumps({"optimizer": _Payload(marker)})
    for step in (10, 20):  # every checkpoint is poisoned, so nothing can be fallen back to
        if where == "old .pt name":
            (ckpt / f"step-{step}.state.pt").write_bytes(payload)
            (ckpt / state_name(step)).unlink()
        else:
            name = state_name(step) if where == "over the state file" else weights_name(step)
            (ckpt / name).write_bytes(payload)
    if where == "old .pt name":
        pointer = {"step": 20, "weights": weights_name(20), "state": "step-20.state.pt"}
        (ckpt / LATEST).write_text(json.dumps(pointer))
    with pytest.raises(CheckpointError, match=r"step-20\.state|step-20\.safetensors"):
        train(_model(), TASK, CFG, run)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["/etc/passwd", "../../outside.safetensors", "", "sub/../../x"])
def test_latest_json_paths_outside_the_folder_are_rejected(tmp_path, name):
    run, ckpt = _finished_run(tmp_path)
    (ckpt / LATEST).write_text(json.dumps({"step": 20, "weights": name, "state": state_name(20)}))
    with pytest.raises(CheckpointError, match="not allowed"):
        latest_step(ckpt)


def test_confined_path_follows_symlinks_and_keeps_inner_names(tmp_path):
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path, tmp_path / "out" / "up")
    with pytest.raises(ValueError, match="outside"):
        confined_path(tmp_path / "out", "up/secret")
    assert confined_path(tmp_path / "out", "a/b.json") == (tmp_path / "out" / "a" / "b.json").resolve()
    for bad in ("/abs", "..", "a/../../b", "", "."):
        with pytest.raises(ValueError, match=repr(bad)):
            confined_path(tmp_path / "out", bad)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


@pytest.mark.parametrize("damage", ["truncated state", "truncated weights", "garbage latest.json"])
def test_a_damaged_checkpoint_falls_back_to_the_previous_one_with_a_warning(tmp_path, damage):
    run, ckpt = _finished_run(tmp_path)
    if damage == "truncated state":
        _truncate(ckpt / state_name(20))
    elif damage == "truncated weights":
        _truncate(ckpt / weights_name(20))
    else:
        (ckpt / LATEST).write_text("{not json")
    with pytest.warns(CheckpointWarning, match="step-20|latest.json"):
        res = train(_model(), TASK, CFG, run)
    # the newest intact checkpoint wins: step 10 when step 20 is damaged (steps 11..20 retrained)
    assert res.resumed_from == (20 if damage == "garbage latest.json" else 10) and res.steps == 20
    assert latest_step(ckpt) == 20


def test_with_nothing_to_fall_back_to_the_error_names_the_file(tmp_path):
    run = tmp_path / "run"
    train(_model(), TASK, TrainConfig(**{**CFG.__dict__, "keep_checkpoints": 1}), run)
    (run / "checkpoints" / state_name(20)).write_bytes(b"")
    with pytest.raises(CheckpointError, match=rf"{state_name(20)}.*restart=True"):
        train(_model(), TASK, TrainConfig(**{**CFG.__dict__, "keep_checkpoints": 1}), run)


def test_leftovers_of_a_kill_are_cleaned_up_on_the_next_start(tmp_path):
    run, ckpt = _finished_run(tmp_path)
    leftovers = [
        f".{state_name(30)}.x1y2z3",  # interrupted atomic writes
        f".{LATEST}.abc123",
        state_name(5),  # a state whose weights were pruned
        "step-7.state.pt",  # an orphan of the old pickle format
        weights_name(30),  # written after the last commit
    ]
    for name in leftovers:
        (ckpt / name).write_bytes(b"junk")
    assert sorted(clean_checkpoints(ckpt)) == sorted(leftovers)
    assert sorted(p.name for p in ckpt.iterdir()) == sorted(
        [LATEST, weights_name(10), state_name(10), weights_name(20), state_name(20)]
    )
    (ckpt / f".{weights_name(40)}.tmp0").write_bytes(b"junk")
    train(_model(), TASK, CFG, run)  # the trainer cleans up when it starts
    assert not (ckpt / f".{weights_name(40)}.tmp0").exists()


def test_dcp_folders_need_the_manifest_and_kill_leftovers_are_cleaned(tmp_path):
    from prismlm.train.checkpoint import clean_checkpoints
    from prismlm.train.sharded_checkpoint import verify_manifest, write_manifest

    planted = tmp_path / "step-2.dcp"
    planted.mkdir()
    (planted / ".metadata").write_bytes(b"pickle bytes")
    with pytest.raises(CheckpointError, match="manifest"):
        verify_manifest(planted)  # refused before torch would unpickle .metadata
    write_manifest(planted, 2)
    assert verify_manifest(planted)["step"] == 2
    (planted / "__0_0.distcp").write_bytes(b"extra")
    with pytest.raises(CheckpointError, match="extra"):
        verify_manifest(planted)
    (tmp_path / ".step-3.dcp.tmp").mkdir()  # killed mid-write
    removed = clean_checkpoints(tmp_path)  # nothing committed: the uncommitted folder goes too
    assert set(removed) == {".step-3.dcp.tmp", "step-2.dcp"} and not any(tmp_path.iterdir())
