import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from seq_standin import TinyGRUConfig, TinyGRULM

import prismlm
from prismlm.data.copy import Copy
from prismlm.train import TrainConfig, train

HERE = Path(__file__).parent
SRC = str(Path(prismlm.__file__).parents[1])  # the subprocess must import this same prismlm


def test_two_gloo_processes_agree_with_a_single_process(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun not installed next to the interpreter")
    out = tmp_path / "ddp.pt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), SRC]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node=2",
            str(HERE / "ddp_worker.py"),
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = torch.load(out, weights_only=False)

    torch.manual_seed(0)
    model = TinyGRULM(TinyGRUConfig(vocab_size=8))
    cfg = TrainConfig(steps=8, batch_size=8, lr=5e-3, warmup=2, eval_every=4, eval_batches=2, device="cpu")
    single = train(model, Copy(vocab_size=8, length=4), cfg)
    for name, value in model.state_dict().items():
        assert torch.allclose(value, ddp["state"][name], atol=1e-5), name
    assert ddp["final"]["loss"] == pytest.approx(single.final["loss"], rel=1e-5)
