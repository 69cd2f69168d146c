"""Two gloo ranks under torchrun (DDP and FSDP2) train exactly what one process trains.

Each rank trains on its own rows of the global batch, accumulating micro-batches; the loss curve
and final weights equal a single process's on the same global batch to fp32 tolerance. A run
SIGKILLed mid-way under torchrun resumes from its checkpoint and ends with the weights of an
uninterrupted run. An FSDP2 model and its AdamW state round-trip through a sharded DCP folder
(each rank its shards), and a folder whose files no longer match prismlm's manifest is refused
before torch unpickles anything. Results come back as safetensors and JSON.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import prismlm
from prismlm.train import TrainConfig, train
from prismlm.train.checkpoint import latest_step
from prismlm.train.sharded_checkpoint import MANIFEST

HERE = Path(__file__).parent
SRC = str(Path(prismlm.__file__).parents[1])  # the subprocesses must import this same prismlm
sys.path.insert(0, str(HERE))
from dist_worker import TASK, tiny_model  # noqa: E402

FP32_TOL = 1e-5
RUN = dict(steps=6, batch_size=8, micro_batch_size=2, lr=5e-3, warmup=2, eval_every=3, eval_batches=2,
           log_every=1, device="cpu")
MODES = {  # launched together; checkpointing inside FSDP2 units must not change the run
    "ddp": {"parallel": "ddp"},
    "fsdp": {"parallel": "fsdp"},
    "fsdp_checkpointed": {"parallel": "fsdp", "activation_checkpointing": True},
}
KILLED = {**RUN, "steps": 12, "checkpoint_every": 4}  # checkpoints at 4 and 8; killed at step 9


def _torchrun(*jobs: dict) -> subprocess.CompletedProcess:
    """One `python -m torch.distributed.run --nproc_per_node=2` launch running `jobs` in turn."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), SRC]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(HERE / "dist_worker.py"), json.dumps([{k: str(v) if isinstance(v, Path) else v
                                                      for k, v in job.items()} for job in jobs])]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def two_rank_runs(tmp_path_factory):
    """Both parallel modes trained on 2 gloo ranks, in a single torchrun launch."""
    root = tmp_path_factory.mktemp("two_ranks")
    jobs = [{"out": root / mode, "train": {**RUN, **fields}} for mode, fields in MODES.items()]
    proc = _torchrun(*jobs, {"out": root / "dcp", "dcp_roundtrip": True})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def _single(fields: dict):
    model = tiny_model()
    plain = ("micro_batch_size", "parallel", "activation_checkpointing")  # one process, whole batch
    fields = {k: v for k, v in fields.items() if k not in plain}
    return model, train(model, TASK, TrainConfig(**fields))


def _assert_same_weights(model, weights):
    for name, value in model.state_dict().items():
        assert torch.allclose(value, weights[name], atol=FP32_TOL), name


@pytest.mark.parametrize("mode", list(MODES))
def test_two_ranks_match_one_process_and_see_different_rows(two_rank_runs, mode):
    out = two_rank_runs / mode
    result = json.loads((out / "result.json").read_text())
    model, single = _single(RUN)
    assert result["curve"] == pytest.approx([r["loss"] for r in single.train_log], rel=FP32_TOL)
    assert result["final"]["loss"] == pytest.approx(single.final["loss"], rel=FP32_TOL)
    _assert_same_weights(model, load_file(str(out / "weights.safetensors")))

    # every rank ran its own micro-batches: 2 per step, 2 rows each, and never the other's rows
    seen = [load_file(str(out / f"rank{r}.safetensors")) for r in (0, 1)]
    rows = [torch.stack([s[str(i)] for i in range(len(s))]) for s in seen]  # [steps*2, 2, T]
    assert rows[0].shape == rows[1].shape == (RUN["steps"] * 2, 2, TASK.max_seq_len)
    assert not torch.equal(rows[0], rows[1])
    gen = torch.Generator().manual_seed(TrainConfig(**RUN).seed)
    for step in range(RUN["steps"]):  # together the ranks cover the global batch, rank 0 first
        batch = TASK.sample(RUN["batch_size"], gen).inputs
        mine = torch.cat([rows[0][2 * step], rows[0][2 * step + 1], rows[1][2 * step], rows[1][2 * step + 1]])
        assert torch.equal(mine, batch)


@pytest.mark.slow  # two more torchrun launches; the single-process kill -9 test runs by default
def test_fsdp_run_killed_under_torchrun_resumes_to_the_uninterrupted_weights(tmp_path):
    fields = {**KILLED, "parallel": "fsdp"}
    run_dir, out = tmp_path / "run", tmp_path / "resumed"
    proc = _torchrun({"out": tmp_path / "killed", "train": fields, "run_dir": run_dir, "kill_at_eval": 3})
    assert proc.returncode != 0  # rank 0 was SIGKILLed at step 9
    assert latest_step(run_dir / "checkpoints") == 8
    assert (run_dir / "checkpoints" / "step-8.dcp" / MANIFEST).is_file()  # sharded, each rank its shards
    proc = _torchrun({"out": out, "train": fields, "run_dir": run_dir})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "result.json").read_text())["resumed_from"] == 8
    model, _ = _single(KILLED)
    _assert_same_weights(model, load_file(str(out / "weights.safetensors")))


def test_fsdp_state_round_trips_through_a_sharded_dcp_folder(two_rank_runs):
    out = two_rank_runs / "dcp"
    saved, loaded = load_file(str(out / "saved.safetensors")), load_file(str(out / "loaded.safetensors"))
    assert set(saved) == set(loaded) and any(k.startswith("optim/") for k in saved)
    for key, value in saved.items():
        assert torch.equal(value, loaded[key]), key
    refused = json.loads((out / "refused.json").read_text())
    # a shard per rank beside DCP's metadata and prismlm's manifest
    assert {"__0_0.distcp", "__1_0.distcp", ".metadata", MANIFEST} <= set(refused["files"])
    assert "SHA-256" in refused["error"]
