"""PrismLM seeded with an initial memory: the seed is read, blend 0 is no seed, causality and
decode == forward still hold, bad seeds are refused, and text seeds / generation modes work."""

import json

import pytest
import torch
from typer.testing import CliRunner

from prismlm.cli import app
from prismlm.memory.seed import generate_text, seed_from_ids, seed_from_texts
from prismlm.models.prism import PrismConfig, PrismLM

KINDS = ("tape", "holo")
S, DM = 4, 8


def _model(kind: str, vocab: int = 40) -> PrismLM:
    torch.manual_seed(0)
    cfg = PrismConfig(vocab_size=vocab, d_model=32, n_layers=3, d_mem=DM, num_slots=S, memory_kind=kind)
    return PrismLM(cfg).eval()


def _seed(model: PrismLM, batch: int | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    lead = () if batch is None else (batch,)
    keys = torch.randint(2, 20, (*lead, 3, 1), generator=g)
    values = torch.randint(20, 40, (*lead, 3, 1), generator=g)
    return seed_from_ids(model, keys, values).detach()


@pytest.mark.parametrize("kind", KINDS)
def test_seed_changes_logits_and_blend_zero_is_no_seed(kind):
    model = _model(kind)
    ids = torch.randint(0, 40, (2, 6))
    base = model(ids)
    for seed in (_seed(model), _seed(model, batch=2)):
        assert not torch.allclose(model(ids, memory=seed), base, atol=1e-4)
        assert torch.equal(model(ids, memory=seed, blend=0.0), base)


def test_partial_slot_seed_keeps_other_slots():
    model = _model("tape")
    init = model.initial_memory(torch.zeros(1, DM), 1.0)
    assert torch.equal(init[1:], model.tape_init[1:]) and torch.equal(init[0], torch.zeros(DM))
    half = model.initial_memory(torch.ones(S, DM), 0.5)
    torch.testing.assert_close(half, 0.5 * model.tape_init + 0.5)


@pytest.mark.parametrize("kind", KINDS)
def test_causal_with_a_seed(kind):
    model = _model(kind)
    seed = _seed(model, batch=1)
    ids = torch.randint(0, 40, (1, 8))
    changed = ids.clone()
    changed[0, 5:] = (changed[0, 5:] + 7) % 40
    torch.testing.assert_close(model(ids, memory=seed)[:, :5], model(changed, memory=seed)[:, :5])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batched", [False, True])
def test_step_and_prefill_match_forward_with_a_seed(kind, batched):
    model = _model(kind)
    seed = _seed(model, batch=2 if batched else None)
    ids = torch.randint(0, 40, (2, 7))
    full = model(ids, memory=seed, blend=0.7)
    state = model.init_state(2, memory=seed, blend=0.7)
    steps = []
    for t in range(ids.shape[1]):
        logits, state = model.step(ids[:, t], state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)
    last, pstate = model.prefill(ids[:, :4], memory=seed, blend=0.7)
    torch.testing.assert_close(last, full[:, 3], atol=1e-5, rtol=1e-5)
    nxt, _ = model.step(ids[:, 4], pstate)  # the seed travels in the prefilled state
    torch.testing.assert_close(nxt, full[:, 4], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_generate_reads_the_seed(kind):
    model = _model(kind)
    ids = torch.randint(0, 40, (2, 3))
    seed = _seed(model)
    out = model.generate(ids, 4, memory=seed)
    assert torch.equal(model.generate(ids, 4, memory=seed, blend=0.0), model.generate(ids, 4))
    assert "prefill" not in vars(model)  # the per-call binding is gone afterwards
    logits, _ = model.prefill(ids, memory=seed)
    assert torch.equal(out[:, 3], logits.argmax(-1))


@pytest.mark.parametrize(
    "memory, blend, error, match",
    [
        (torch.zeros(S + 1, DM), 1.0, ValueError, "K <= 4"),
        (torch.zeros(S, DM + 1), 1.0, ValueError, "d_mem=8"),
        (torch.zeros(3, S, DM), 1.0, ValueError, "batch size 3"),
        (torch.zeros(2, 2, S, DM), 1.0, ValueError, "memory must be"),
        (torch.zeros(S, DM, dtype=torch.int64), 1.0, TypeError, "floating-point"),
        ([[0.0] * DM] * S, 1.0, TypeError, "torch.Tensor"),
        (torch.full((S, DM), float("nan")), 1.0, ValueError, "NaN"),
        (torch.zeros(S, DM), 1.5, ValueError, "blend"),
        (None, -0.1, ValueError, "blend"),
    ],
)
def test_bad_seeds_are_rejected(memory, blend, error, match):
    model = _model("tape")
    with pytest.raises(error, match=match):
        model(torch.zeros(2, 3, dtype=torch.int64), memory=memory, blend=blend)


def test_holo_needs_a_full_state():
    model = _model("holo")
    ids = torch.zeros(1, 3, dtype=torch.int64)
    with pytest.raises(ValueError, match="all 4 slots"):
        model(ids, memory=torch.zeros(2, DM))
    with pytest.raises(ValueError, match=r"\[D=32\]"):
        model(ids, memory=torch.zeros(31))
    flat = _seed(model).reshape(-1)
    torch.testing.assert_close(model(ids, memory=flat), model(ids, memory=flat.view(S, DM)))


@pytest.mark.parametrize("kind", KINDS)
def test_text_seed_and_generation_modes(kind, tmp_path):
    model = _model(kind, vocab=256)
    seed = seed_from_texts(model, [("capital of France", "Paris"), ("one", "un")])
    assert seed.shape == (S, DM)
    text = generate_text(model, "capital of", "oneshot", [("one", "un")], max_new_tokens=3)
    assert isinstance(text, str)
    with pytest.raises(ValueError, match="needs at least one"):
        generate_text(model, "x", "knowledge", [])
    with pytest.raises(ValueError, match="unknown mode"):
        generate_text(model, "x", "few")
    model.save_pretrained(tmp_path / "ckpt")
    run = CliRunner().invoke(app, ["generate", "--checkpoint", str(tmp_path / "ckpt"), "--mode", "oneshot",
                                   "--examples", json.dumps([["cat", "chat"]]), "--prompt", "dog",
                                   "--max-new-tokens", "2"])  # fmt: skip
    assert run.exit_code == 0, run.output
    bad = CliRunner().invoke(app, ["generate", "--checkpoint", str(tmp_path / "ckpt"), "--mode", "knowledge",
                                   "--prompt", "dog"])  # fmt: skip
    assert bad.exit_code == 2 and "--kb" in bad.output
