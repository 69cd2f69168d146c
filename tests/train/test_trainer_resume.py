import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from seq_standin import TinyGRUConfig, TinyGRULM

from prismlm.data.copy import Copy
from prismlm.train import TrainConfig, train
from prismlm.train.checkpoint import latest_step

HERE = Path(__file__).parent

CFG = dict(
    steps=60,
    batch_size=16,
    lr=5e-3,
    warmup=5,
    eval_every=10,
    eval_batches=2,
    checkpoint_every=20,
    log_every=5,
)

KILLED_RUN = """
import os, signal, sys, torch
from pathlib import Path
from seq_standin import TinyGRUConfig, TinyGRULM
from prismlm.data.copy import Copy
from prismlm.train import TrainConfig, train
calls = []
def die_at_fifth_eval(model):
    calls.append(1)
    if len(calls) == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return {}
torch.manual_seed(0)
model = TinyGRULM(TinyGRUConfig(vocab_size=8))
train(model, Copy(vocab_size=8, length=4), TrainConfig(**%r), Path(sys.argv[1]),
      eval_fn=die_at_fifth_eval)
"""


def _model():
    torch.manual_seed(0)
    return TinyGRULM(TinyGRUConfig(vocab_size=8))


def test_killed_run_resumes_and_ends_where_an_uninterrupted_run_does(tmp_path):
    task = Copy(vocab_size=8, length=4)
    ref_model = _model()
    ref = train(ref_model, task, TrainConfig(**CFG))

    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_RUN % CFG, str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr  # SIGKILL at the 5th eval (step 50)
    assert latest_step(run_dir / "checkpoints") == 40

    model = _model()
    res = train(model, task, TrainConfig(**CFG), run_dir)
    assert res.resumed_from == 40 and res.steps == 60
    assert res.final["loss"] == pytest.approx(ref.final["loss"], rel=1e-5)
    assert res.train_log[-1]["loss"] == pytest.approx(ref.train_log[-1]["loss"], rel=1e-5)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert [r["step"] for r in res.history] == [r["step"] for r in ref.history]


def test_a_finished_run_is_not_trained_again(tmp_path):
    task = Copy(vocab_size=8, length=4)
    cfg = TrainConfig(**{**CFG, "steps": 20})
    first = train(_model(), task, cfg, tmp_path)
    again = train(_model(), task, cfg, tmp_path)
    assert again.resumed_from == 20 and again.final == first.final
