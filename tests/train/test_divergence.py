"""A run whose loss goes non-finite stops with TrainingDiverged; the NaN model is never saved."""

import json
import math

import pytest
import torch
from seq_standin import TinyGRUConfig, TinyGRULM
from typer.testing import CliRunner

from prismlm.data.copy import Copy
from prismlm.models.transformer import TransformerConfig, TransformerLM
from prismlm.train import TrainConfig, train
from prismlm.train.checkpoint import latest_step, read_state, state_name
from prismlm.train.guard import TrainingDiverged

# lr 1000 without clipping or warmup: the reviewer's diverging run (valid, but hopeless)
WILD = dict(steps=60, batch_size=8, lr=1000.0, warmup=0, warmup_frac=0.0, grad_clip=0.0,
            eval_every=20, eval_batches=1, log_every=1, device="cpu")


def _transformer():
    torch.manual_seed(0)
    return TransformerLM(TransformerConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=2, max_len=16))


class _Poisonable(TinyGRULM):
    """The stand-in model, whose logits turn NaN once `poisoned` is set."""

    poisoned = False

    def forward(self, input_ids, return_aux=False):
        out = super().forward(input_ids, return_aux)
        if not self.poisoned:
            return out
        return (out[0] * float("nan"), out[1]) if return_aux else out * float("nan")


def test_a_diverging_run_raises_with_its_step_and_writes_no_non_finite_number(tmp_path):
    with pytest.raises(TrainingDiverged, match="diverged at step") as info:
        train(_transformer(), Copy(vocab_size=8, length=4), TrainConfig(**WILD), tmp_path)
    assert 1 <= info.value.step <= WILD["steps"]
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["step"] < info.value.step
        assert all(math.isfinite(v) for v in record.values() if isinstance(v, float))
    assert latest_step(tmp_path / "checkpoints") is None  # nothing finite was ever checkpointed


def test_divergence_keeps_the_last_finite_checkpoint(tmp_path):
    calm = TrainConfig(steps=20, batch_size=8, lr=5e-3, warmup=2, eval_every=10, eval_batches=1,
                       checkpoint_every=10, device="cpu")
    torch.manual_seed(0)
    model = _Poisonable(TinyGRUConfig(vocab_size=8, d_model=16))

    def poison_after_first_eval(m):
        m.poisoned = True  # the step-10 checkpoint is still written (it follows this eval)
        return {}

    with pytest.raises(TrainingDiverged) as info:
        train(model, Copy(vocab_size=8, length=4), calm, tmp_path, eval_fn=poison_after_first_eval)
    assert info.value.step == 11 and info.value.last_checkpoint == 10
    ckpt = tmp_path / "checkpoints"
    assert latest_step(ckpt) == 10 and not (ckpt / state_name(20)).exists()
    assert read_state(ckpt / state_name(10))["step"] == 10


def test_the_train_command_exits_non_zero_and_saves_no_model(tmp_path):
    from prismlm.cli import app

    train_json = json.dumps({k: v for k, v in WILD.items()})
    res = CliRunner().invoke(
        app,
        ["train", "--model", "transformer", "--no-progress", "--train", train_json,
         "--run-dir", str(tmp_path / "run"),
         "--task", '{"name": "induction", "vocab_size": 8, "prefix_len": 8}',
         "--dims", '{"d_model": 16, "n_layers": 1, "n_heads": 2}'],
    )
    assert res.exit_code != 0 and isinstance(res.exception, TrainingDiverged)
    assert not (tmp_path / "run" / "model").exists()
