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
from prismlm.train.checkpoint import encode_state, latest_step, read_state, state_name
from prismlm.train.trainer import WALL_CLOCK_KEYS

HERE = Path(__file__).parent
SRC = str(Path(prismlm.__file__).parents[1])  # the subprocess must import this same prismlm

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
import prismlm
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
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), SRC]), "OMP_NUM_THREADS": "1"}
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


class _CrashAtEval:
    """eval_fn that raises at its n-th call: an in-process stand-in for a crash mid-run."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, model):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return {}


def _untimed(records):
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK_KEYS} for r in records]


def test_resume_restores_weights_optimizer_rng_history_and_early_stop_exactly(tmp_path):
    # plateau rule engaged early so the early-stop counters are non-trivial at the checkpoint
    cfg = TrainConfig(**CFG, plateau_patience=50, plateau_min_step=0, plateau_floor=0.0, device="cpu")
    task = Copy(vocab_size=8, length=4)
    ref_model = _model()
    ref = train(ref_model, task, cfg, tmp_path / "ref")

    with pytest.raises(KeyboardInterrupt):
        train(_model(), task, cfg, tmp_path / "run", eval_fn=_CrashAtEval(5))  # dies at step 50
    model = _model()
    res = train(model, task, cfg, tmp_path / "run")
    assert res.resumed_from == 40 and res.steps == ref.steps == 60
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        assert torch.equal(a, b)  # bit-identical, not merely close
    assert _untimed(res.history) == _untimed(ref.history)
    assert _untimed(res.train_log) == _untimed(ref.train_log) and res.best.keys() == ref.best.keys()

    # the committed states of both runs agree field by field: moments, RNG streams, counters
    ours = read_state(tmp_path / "run" / "checkpoints" / state_name(60))
    theirs = read_state(tmp_path / "ref" / "checkpoints" / state_name(60))
    for key in ("generator", "torch_rng"):
        assert torch.equal(ours[key], theirs[key])
    assert ours["early_stop"]["no_improve"] == theirs["early_stop"]["no_improve"]
    assert ours["early_stop"]["best"] == theirs["early_stop"]["best"]
    assert ours["optimizer"]["state"].keys() == theirs["optimizer"]["state"].keys()
    for idx, moments in ours["optimizer"]["state"].items():
        for name, value in moments.items():
            assert torch.equal(value, theirs["optimizer"]["state"][idx][name]), (idx, name)
    assert ours["optimizer"]["param_groups"] == theirs["optimizer"]["param_groups"]


def test_state_codec_round_trips_tensors_tuples_int_keys_and_floats():
    opt_state = {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(2, 3)}, 1: {"m": torch.arange(4)}}
    state = {
        "optimizer": {"state": opt_state, "param_groups": [{"betas": (0.9, 0.95), "params": [0, 1]}]},
        "generator": torch.Generator().manual_seed(7).get_state(),
        "history": [{"loss": 0.1 + 0.2, "best": None, "tiny": 5e-324}],
        "elapsed": 1 / 3,
    }
    back = _decode_bytes(encode_state(state))
    assert back["optimizer"]["param_groups"] == [{"betas": (0.9, 0.95), "params": [0, 1]}]
    assert set(back["optimizer"]["state"]) == {0, 1}
    assert torch.equal(back["optimizer"]["state"][0]["exp_avg"], opt_state[0]["exp_avg"])
    assert back["optimizer"]["state"][0]["step"].shape == ()
    assert torch.equal(back["generator"], state["generator"])
    assert back["history"] == state["history"] and back["elapsed"] == state["elapsed"]


def _decode_bytes(data: bytes):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / state_name(1)
        path.write_bytes(data)
        return read_state(path)


# --- a run folder is resumed only by the same resolved configs --------------------------------

SHORT = {**CFG, "steps": 20, "device": "cpu"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"train": {"lr": 0.1}}, "train.lr"),
        ({"train": {"steps": 30}}, "train.steps"),
        ({"train": {"seed": 7}}, "train.seed"),
        ({"task": {"length": 5}}, "task.length"),
        ({"model": {"embed_scale": 0.5}}, "model.config.embed_scale"),  # same shapes, other model
    ],
)
def test_a_changed_config_refuses_to_resume_a_finished_run_and_names_the_field(tmp_path, change, field):
    first = train(_model(), Copy(vocab_size=8, length=4), TrainConfig(**SHORT), tmp_path)
    torch.manual_seed(0)
    model = TinyGRULM(TinyGRUConfig(vocab_size=8, **change.get("model", {})))
    task = Copy(**{"vocab_size": 8, "length": 4, **change.get("task", {})})
    cfg = TrainConfig(**{**SHORT, **change.get("train", {})})
    with pytest.raises(ValueError, match=rf"changed: .*{field}.*restart=True"):
        train(model, task, cfg, tmp_path)
    # asked to, it starts afresh and trains the new config
    fresh = train(model, task, cfg, tmp_path, restart=True)
    assert fresh.resumed_from is None and fresh.steps == cfg.steps
    assert fresh.history != first.history


def test_an_unfinished_run_does_not_continue_under_a_new_lr(tmp_path):
    cfg = TrainConfig(**{**CFG, "device": "cpu"})
    with pytest.raises(KeyboardInterrupt):
        train(_model(), Copy(vocab_size=8, length=4), cfg, tmp_path, eval_fn=_CrashAtEval(3))
    assert latest_step(tmp_path / "checkpoints") == 20
    with pytest.raises(ValueError, match="train.lr: 0.005 -> 0.05"):
        train(_model(), Copy(vocab_size=8, length=4), TrainConfig(**{**CFG, "lr": 5e-2}), tmp_path)


def test_fields_that_cannot_change_the_result_may_change_on_resume(tmp_path):
    cfg = TrainConfig(**{**CFG, "device": "cpu"})
    with pytest.raises(KeyboardInterrupt):
        train(_model(), Copy(vocab_size=8, length=4), cfg, tmp_path, eval_fn=_CrashAtEval(3))
    relaxed = TrainConfig(**{**CFG, "device": "cpu", "checkpoint_every": 5, "keep_checkpoints": 2,
                             "progress": True})
    res = train(_model(), Copy(vocab_size=8, length=4), relaxed, tmp_path)
    assert res.resumed_from == 20 and res.steps == 60


@pytest.mark.gpu
def test_resume_on_cuda_restores_the_cuda_rng_stream(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    cfg = TrainConfig(**{**CFG, "device": "cuda"})
    task = Copy(vocab_size=8, length=4)
    ref_model = _model()
    ref = train(ref_model, task, cfg, tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        train(_model(), task, cfg, tmp_path / "run", eval_fn=_CrashAtEval(5))
    saved = read_state(tmp_path / "run" / "checkpoints" / state_name(40))
    assert saved["cuda_rng"].dtype == torch.uint8 and saved["cuda_rng"].numel() > 0
    model = _model()
    res = train(model, task, cfg, tmp_path / "run")
    assert res.resumed_from == 40
    assert res.final["loss"] == pytest.approx(ref.final["loss"], rel=1e-4)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-4)
