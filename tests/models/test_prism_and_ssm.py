"""PrismLM and the SSM baseline beyond the shared interface (tests/models/test_interface.py):
top-2 routing, the tape threaded through blocks, routing statistics, config checks, and the
speed work's invariants: logits as recorded before it, fused tape = composed reference."""

import json
from pathlib import Path

import pytest
import torch

from prismlm.layers import memory_tape
from prismlm.layers.experts import ExpertContext
from prismlm.layers.memory_tape import MemoryExpert, TapeThread
from prismlm.models.prism import PrismConfig, PrismLM
from prismlm.models.ssm import SSMConfig


def _small_prism(**kw) -> PrismLM:
    torch.manual_seed(0)
    cfg = dict(vocab_size=20, d_model=32, n_layers=3, d_mem=8, num_slots=6)
    cfg.update(kw)
    return PrismLM(PrismConfig(**cfg)).eval()


ATOL = 1e-4  # decode vs forward (the shared interface suite's bound)


def test_top2_routing_is_causal_and_decodes_like_forward():
    """The interface suite runs top_k=1; with two experts per token the sparse dispatch differs."""
    model = _small_prism(top_k=2)
    x = torch.randint(0, 20, (2, 20), generator=torch.Generator().manual_seed(4))
    y = x.clone()
    y[:, 9] = (y[:, 9] + 1) % 20
    with torch.no_grad():
        full, changed = model(x), model(y)
        _, state = model.prefill(x[:, :5])
        steps = [model.step(x[:, t], state)[0] for t in range(5, 20)]
    torch.testing.assert_close(changed[:, :9], full[:, :9], atol=ATOL, rtol=0)
    assert (changed[:, 9:] - full[:, 9:]).abs().max() > 100 * ATOL
    torch.testing.assert_close(torch.stack(steps, 1), full[:, 5:], atol=ATOL, rtol=0)


def _ctx(x: torch.Tensor, thread: TapeThread) -> ExpertContext:
    b, t, _ = x.shape
    return ExpertContext(torch.arange(b * t), torch.ones(b * t), b, t, thread)


def test_a_write_in_block_1_is_readable_in_block_2_and_at_the_next_step():
    torch.manual_seed(0)
    d, t_len, t = 16, 10, 4
    blk1, blk2 = MemoryExpert(d, 8, 5), MemoryExpert(d, 8, 5)
    x1 = torch.randn(1, t_len, d, requires_grad=True)
    x2 = torch.randn(1, t_len, d)
    thread = TapeThread(torch.randn(5, 8))
    ctx1 = _ctx(x1, thread)
    out1 = blk1(x1.reshape(-1, d), ctx1)
    ctx2 = _ctx(x2, ctx1.outputs["thread"])
    out2 = blk2(x2.reshape(-1, d), ctx2)

    def dep(out: torch.Tensor, pos: int) -> float:
        (grad,) = torch.autograd.grad(out[pos].sum(), x1, retain_graph=True)
        return grad[0, t].abs().sum().item()

    assert dep(out2, t) > 0  # block 2 at time t reads block 1's write at t
    assert dep(out1, t + 1) > 0  # block 1 at t + 1 reads its own write at t
    assert dep(out2, t + 3) > 0  # and the write persists
    assert dep(out1, t - 1) == 0 and dep(out2, t - 1) == 0  # nothing flows backwards in time


def test_tape_slots_hold_different_contents_after_distinct_writes():
    torch.manual_seed(0)
    expert = MemoryExpert(16, 8, 6)
    x = torch.randn(1, 12, 16)
    ctx = _ctx(x, TapeThread(torch.zeros(6, 8)))
    expert(x.reshape(-1, 16), ctx)
    tape = ctx.outputs["state"][0]
    assert torch.cdist(tape, tape).fill_diagonal_(1.0).min() > 1e-4


def test_last_block_has_no_memory_expert_and_routing_stats_are_reported():
    model = _small_prism()
    assert [b.has_memory for b in model.blocks] == [True, True, False]
    model(torch.randint(0, 20, (2, 16)))
    stats = model.routing_stats()
    assert len(stats) == 3 and stats[-1]["kinds"] == ["neural", "symbolic"]
    for s in stats:
        assert sum(s["fractions"].values()) == pytest.approx(1.0)
        assert len(s["gates"]) == model.config.num_rates


@pytest.mark.parametrize("k", [1, 2])
def test_each_token_is_computed_by_exactly_k_experts(k):
    model = _small_prism(top_k=k)
    seen = []
    hooks = [
        e.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[0]))
        for blk in model.blocks
        for e in blk.experts
    ]
    x = torch.randint(0, 20, (2, 16))
    logits, aux = model(x, return_aux=True)
    for h in hooks:
        h.remove()
    n_tok = x.numel()
    per_block = [sum(seen[0:3]), sum(seen[3:6]), sum(seen[6:8])]
    assert per_block == [k * n_tok] * 3
    (logits.logsumexp(-1).mean() + aux).backward()
    for blk in model.blocks:
        assert blk.router.proj.weight.grad.abs().sum() > 0


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="'d_model'"):
        PrismConfig(d_model=30, num_rates=4)
    with pytest.raises(ValueError, match="'top_k'"):
        PrismConfig(top_k=4)
    with pytest.raises(ValueError, match="'memory_kind'"):
        PrismConfig(memory_kind="cubic")
    with pytest.raises(ValueError, match="'d_state'"):
        SSMConfig(d_state=0)


# ------------------------------------------------------------------------- speed-work invariants
FIXTURE = Path(__file__).parent / "data" / "prism_logits_before_speedup.json"
FP32_ATOL = 1e-5  # fp32 rounding: the fast paths reorder sums and products, nothing else


def _tape_path(monkeypatch, path: str) -> None:
    """Force MemoryExpert's choice: "fused" (tape_from_writes) or "composed" (the reference)."""
    monkeypatch.setattr(memory_tape, "FUSED_MIN_ELEMENTS", 0 if path == "fused" else 1 << 62)


@pytest.mark.parametrize("path", ["fused", "composed"])
@pytest.mark.parametrize("case", ["top1", "top2"])
def test_logits_equal_those_recorded_before_the_speed_work(monkeypatch, case, path):
    _tape_path(monkeypatch, path)
    rec = json.loads(FIXTURE.read_text())["cases"][case]
    torch.manual_seed(0)
    model = PrismLM(PrismConfig(**rec["config"]))
    with torch.no_grad():
        logits, aux = model(torch.tensor(rec["ids"]), return_aux=True)
    torch.testing.assert_close(logits, torch.tensor(rec["logits"]), atol=FP32_ATOL, rtol=0)
    assert aux.item() == pytest.approx(rec["aux"], abs=FP32_ATOL)


@pytest.mark.parametrize("top_k", [1, 2])
def test_fused_and_composed_tapes_give_the_same_loss_and_gradients(monkeypatch, top_k):
    x = torch.randint(0, 20, (3, 17), generator=torch.Generator().manual_seed(2))
    results = {}
    for path in ("fused", "composed"):
        _tape_path(monkeypatch, path)
        model = _small_prism(top_k=top_k).train()
        logits, aux = model(x, return_aux=True)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x.flatten()) + aux
        loss.backward()
        results[path] = (logits.detach(), {n: p.grad for n, p in model.named_parameters()})
    (lf, gf), (lc, gc) = results["fused"], results["composed"]
    torch.testing.assert_close(lf, lc, atol=FP32_ATOL, rtol=0)
    for name, grad in gc.items():
        if grad is None:
            assert gf[name] is None, name
        else:
            torch.testing.assert_close(gf[name], grad, atol=FP32_ATOL, rtol=1e-4, msg=name)
