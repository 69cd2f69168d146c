"""Progressive stacking through the one trainer: stages as data, grow between, resume after kill -9."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import prismlm
from prismlm.data.copy import Copy
from prismlm.models import TransformerConfig
from prismlm.reproduce.pcs import Stage, run_progressive, split_steps
from prismlm.train import TrainConfig

SRC = str(Path(prismlm.__file__).parents[1])
BASE = dict(batch_size=8, lr=5e-3, warmup=2, eval_every=5, eval_batches=2, checkpoint_every=5, log_every=5)
STAGES = [(16, 1, 2, 10), (32, 2, 4, 15)]  # d_model, n_layers, n_heads, steps

KILLED = """
import os, signal, sys
from pathlib import Path
import prismlm.reproduce.pcs as pcs
from prismlm.data.copy import Copy
from prismlm.models import TransformerConfig
from prismlm.train import TrainConfig
real_train, calls = pcs.train, []
def train(model, task, config, run_dir, **kw):
    calls.append(run_dir)
    if len(calls) == 2:  # second stage: die at its second eval (step 10; checkpoint at 5)
        evals = []
        def die(m):
            evals.append(1)
            if len(evals) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return {}
        kw["eval_fn"] = die
    return real_train(model, task, config, run_dir, **kw)
pcs.train = train
stages = [pcs.Stage(TransformerConfig(vocab_size=8, d_model=d, n_layers=n, n_heads=h), s)
          for d, n, h, s in %r]
pcs.run_progressive(stages, Copy(vocab_size=8, length=4), TrainConfig(**%r), Path(sys.argv[1]), seed=3)
"""


def _stages():
    return [Stage(TransformerConfig(vocab_size=8, d_model=d, n_layers=n, n_heads=h), s)
            for d, n, h, s in STAGES]


def test_split_steps_gives_the_remainder_to_the_last_stage():
    assert split_steps(1000, [0.4, 0.35, 0.25]) == [400, 350, 250]
    assert split_steps(10, [1 / 3, 1 / 3, 1 / 3]) == [3, 3, 4]
    with pytest.raises(ValueError, match="fractions"):
        split_steps(10, [0.5, 0.6])


def test_progressive_run_grows_between_stages_and_keeps_the_function_at_the_boundary():
    res = run_progressive(_stages(), Copy(vocab_size=8, length=4), TrainConfig(**BASE), seed=3)
    assert [r.steps for r in res.stages] == [10, 15]
    assert res.curve[-1]["global_step"] == 25 and res.curve[-1]["stage"] == 1
    assert res.model.config.d_model == 32 and res.model.config.n_layers == 2
    assert res.curve[0]["params"] < res.curve[-1]["params"]


def test_a_progressive_run_killed_mid_stage_resumes_to_the_same_result(tmp_path):
    task, cfg = Copy(vocab_size=8, length=4), TrainConfig(**BASE)
    ref = run_progressive(_stages(), task, cfg, tmp_path / "ref", seed=3)
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILLED % (STAGES, BASE), str(run_dir)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert len(list(run_dir.iterdir())) == 2  # one folder per stage, keyed by its lineage
    res = run_progressive(_stages(), task, cfg, run_dir, seed=3)
    assert res.stages[0].resumed_from == 10 and res.stages[1].resumed_from == 5
    assert res.final["loss"] == pytest.approx(ref.final["loss"], rel=1e-5)
    for a, b in zip(res.model.parameters(), ref.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert [r["global_step"] for r in res.curve] == [r["global_step"] for r in ref.curve]


def test_changing_an_earlier_stage_gives_every_later_stage_a_fresh_folder(tmp_path):
    task, cfg = Copy(vocab_size=8, length=4), TrainConfig(**BASE)
    run_progressive(_stages(), task, cfg, tmp_path, seed=3)
    changed = _stages()
    changed[0] = Stage(changed[0].config, 5)
    run_progressive(changed, task, cfg, tmp_path, seed=3)
    assert len(list(tmp_path.iterdir())) == 4


def test_bound_facts_are_read_by_the_model_at_generation_time():
    from prismlm.models import PrismConfig, PrismLM
    from prismlm.reproduce.two_axes import bind_facts

    torch.manual_seed(0)
    model = PrismLM(PrismConfig(vocab_size=16, d_model=16, n_layers=2, d_mem=8, num_slots=4,
                                memory_kind="holo", top_k=3)).eval()
    prompts, values = torch.randint(0, 16, (3, 5)), torch.tensor([1, 2, 3])
    with torch.no_grad():
        before = model(prompts)[:, -1]
    tape = bind_facts(model, prompts, values, strength=4.0)
    assert tape.abs().sum() > 0 and torch.equal(model.tape_init.flatten(), tape)
    with torch.no_grad():
        after = model(prompts)[:, -1]
        state = model.init_state(3)  # decoding starts from the same bound tape
        stepped = [model.step(prompts[:, t], state)[0] for t in range(prompts.shape[1])][-1]
    assert not torch.allclose(after, before)
    torch.testing.assert_close(stepped, after, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="memory_kind"):
        bind_facts(PrismLM(PrismConfig(vocab_size=16, d_model=16, n_layers=2)), prompts, values, 1.0)


def test_demo_is_a_group_whose_plain_call_is_the_main_job_and_two_axes_a_subcommand(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import prismlm.demo
    from prismlm.cli import app

    calls = []
    monkeypatch.setattr(prismlm.demo, "run_demo", lambda out, steps: calls.append((out, steps)))
    res = CliRunner().invoke(app, ["demo", "--steps", "3", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert calls == [(tmp_path, 3)]
    helped = CliRunner().invoke(app, ["demo", "two-axes", "--help"])
    assert helped.exit_code == 0 and not calls[1:]
