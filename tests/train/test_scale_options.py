"""The scale options of the one trainer: accumulation, decay groups, checkpointing, compile,
init_from, throughput records and the optional loggers."""

import importlib.util
import json

import pytest
import torch
from seq_standin import TinyGRUConfig, TinyGRULM

from prismlm.data.copy import Copy
from prismlm.models import PrismConfig, PrizmaSeqConfig, SSMConfig, TransformerConfig, build_model
from prismlm.train import TrainConfig, train
from prismlm.train.activation import checkpoint_blocks, saved_tensor_bytes, uncheckpoint_blocks
from prismlm.train.checkpoint import CheckpointError
from prismlm.train.flops import flops_per_token
from prismlm.train.optim import build_optimizer, no_decay_names
from prismlm.train.trainer import WALL_CLOCK_KEYS

FP32_TOL = 1e-5  # the trainer tests' tolerance for "the same run up to float rounding"
TASK = Copy(vocab_size=8, length=4)
BASE = dict(steps=6, lr=5e-3, warmup=2, eval_every=3, eval_batches=2, log_every=1, device="cpu")


def _gru():
    torch.manual_seed(0)
    return TinyGRULM(TinyGRUConfig(vocab_size=8))


def _curve(res):
    return [r["loss"] for r in res.train_log]


def test_accumulating_four_micro_batches_of_two_equals_one_batch_of_eight():
    whole, accum = _gru(), _gru()
    a = train(whole, TASK, TrainConfig(batch_size=8, **BASE))
    b = train(accum, TASK, TrainConfig(batch_size=8, micro_batch_size=2, **BASE))
    assert _curve(a) == pytest.approx(_curve(b), rel=FP32_TOL)
    for p, q in zip(whole.parameters(), accum.parameters(), strict=True):
        assert torch.allclose(p, q, atol=FP32_TOL)


def test_micro_batch_must_divide_the_batch():
    with pytest.raises(ValueError, match="'micro_batch_size'"):
        TrainConfig(batch_size=8, micro_batch_size=3)
    with pytest.raises(ValueError, match="'micro_batch_size'"):
        TrainConfig(batch_size=8, micro_batch_size=8).accumulation(world_size=2)  # 4 rows per rank


def test_matrices_scope_exempts_norms_biases_and_embeddings_from_decay():
    torch.manual_seed(0)
    model = build_model(TransformerConfig(vocab_size=16, d_model=16, n_layers=1))
    exempt = no_decay_names(model)
    assert "embed.weight" in exempt
    assert all(n in exempt for n, p in model.named_parameters() if p.ndim < 2)
    assert any("norm" in n for n in exempt)
    opt = build_optimizer(model, TrainConfig(decay_scope="matrices", weight_decay=0.1), torch.device("cpu"))
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == (name not in exempt), name
    everything = build_optimizer(model, TrainConfig(weight_decay=0.1), torch.device("cpu"))
    assert [g["weight_decay"] for g in everything.param_groups] == [0.1]  # spec §5: decay on all


CONFIGS = [PrismConfig, PrizmaSeqConfig, SSMConfig, TransformerConfig]


@pytest.mark.parametrize("config_class", CONFIGS, ids=lambda c: c.__name__)
def test_activation_checkpointing_saves_less_and_keeps_gradients(config_class):
    torch.manual_seed(0)
    model = build_model(config_class(vocab_size=16, d_model=32, n_layers=3)).train()
    ids = torch.randint(0, 16, (2, 16))
    graph = {}

    def forward():
        logits, aux = model(ids, return_aux=True)
        graph["loss"] = logits.square().mean() + aux

    def grads_of_one_step():
        model.zero_grad()
        held = saved_tensor_bytes(forward)
        graph.pop("loss").backward()
        return held, [p.grad.clone() for p in model.parameters()]

    plain, g_plain = grads_of_one_step()
    checkpoint_blocks(model)
    checked, g_checked = grads_of_one_step()
    uncheckpoint_blocks(model)
    again, _ = grads_of_one_step()
    assert checked < plain / 2  # three blocks' activations are recomputed, not kept
    assert again == plain
    for a, b in zip(g_plain, g_checked, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_checkpointed_training_run_matches_the_plain_run():
    torch.manual_seed(0)
    plain = build_model(SSMConfig(vocab_size=8, d_model=16, n_layers=2))
    torch.manual_seed(0)
    checked = build_model(SSMConfig(vocab_size=8, d_model=16, n_layers=2))
    a = train(plain, TASK, TrainConfig(batch_size=4, **BASE))
    b = train(checked, TASK, TrainConfig(batch_size=4, activation_checkpointing=True, **BASE))
    assert _curve(a) == pytest.approx(_curve(b), rel=FP32_TOL)


def test_checkpointing_a_model_without_blocks_names_the_field():
    with pytest.raises(TypeError, match="'activation_checkpointing'"):
        train(_gru(), TASK, TrainConfig(batch_size=4, activation_checkpointing=True, **BASE))


def test_compile_option_wraps_the_model(monkeypatch):
    wrapped = []

    def fake_compile(module, *args, **kwargs):
        wrapped.append(module)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    model = _gru()
    train(model, TASK, TrainConfig(batch_size=4, compile=True, **BASE))
    assert wrapped == [model]
    train(_gru(), TASK, TrainConfig(batch_size=4, **BASE))
    assert len(wrapped) == 1  # off by default


def test_init_from_starts_from_another_runs_committed_weights(tmp_path):
    first = _gru()
    train(first, TASK, TrainConfig(batch_size=4, **BASE), run_dir=tmp_path / "a")
    second = _gru()
    cfg = TrainConfig(batch_size=4, **{**BASE, "steps": 1, "lr": 1e-12}, init_from=str(tmp_path / "a"))
    train(second, TASK, cfg, run_dir=tmp_path / "b")
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-8)
    with pytest.raises(CheckpointError, match="'init_from'"):
        train(_gru(), TASK, TrainConfig(batch_size=4, **BASE, init_from=str(tmp_path / "nowhere")))


def test_train_records_carry_tokens_per_second():
    res = train(_gru(), TASK, TrainConfig(batch_size=4, **BASE))
    rates = [r["tokens_per_s"] for r in res.train_log[1:]]
    assert rates and all(r > 0 for r in rates)
    assert "mfu" not in res.train_log[-1]  # a CPU has no peak FLOP/s to compare with
    timed = TrainConfig(batch_size=4, peak_flops=1e12, **BASE)
    assert all(0 < r["mfu"] < 1 for r in train(_gru(), TASK, timed).train_log[1:])
    assert {"tokens_per_s", "mfu", "time"} == set(WALL_CLOCK_KEYS)


def test_flop_estimate_is_six_n_plus_attention():
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=16, d_model=16, n_layers=2)
    model = build_model(cfg)
    n = sum(p.numel() for p in model.parameters())
    assert flops_per_token(model, 32) == 6 * n + 12 * 2 * 16 * 32
    ssm = build_model(SSMConfig(vocab_size=16, d_model=16, n_layers=2))
    assert flops_per_token(ssm, 32) == 6 * sum(p.numel() for p in ssm.parameters())


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard not installed")
def test_tensorboard_logs_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(_gru(), TASK, TrainConfig(batch_size=4, tensorboard=True, **BASE), run_dir=tmp_path)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert "train/loss" in events.Tags()["scalars"] and "eval/loss" in events.Tags()["scalars"]
    assert len(events.Scalars("train/loss")) == BASE["steps"]
    # every logged scalar is the one metrics.jsonl records, at its step
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for kind in ("train", "eval"):
        logged = [(r["step"], r["loss"]) for r in records if r["kind"] == kind]
        read = [(e.step, e.value) for e in events.Scalars(f"{kind}/loss")]
        assert [s for s, _ in read] == [s for s, _ in logged]
        assert [v for _, v in read] == pytest.approx([v for _, v in logged], rel=1e-6)  # float32 events
    assert {"train/tokens_per_s", "train/lr"} <= set(events.Tags()["scalars"])


def test_missing_optional_loggers_warn_and_training_goes_on(tmp_path):
    missing = {name: importlib.util.find_spec(name) is None for name in ("tensorboard", "wandb")}
    if not any(missing.values()):
        pytest.skip("both loggers are installed")
    with pytest.warns(UserWarning, match="not installed"):  # only the missing ones are asked for
        res = train(_gru(), TASK, TrainConfig(batch_size=4, **missing, **BASE), tmp_path)
    assert res.steps == BASE["steps"]


def test_bf16_autocast_never_runs_on_cpu():
    from prismlm.train.trainer import _Run

    run = _Run(_gru(), TASK, TrainConfig(batch_size=4, amp=True, **BASE), None, None)
    assert run.amp is False and run.configs["train"]["amp"] is False
