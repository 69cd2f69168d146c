"""The Prizma-Seq v2 levers (quad2_lowrank, write_mode, decoupled_gate, out_gate, state_norm):
each is off by default and adds nothing when off; when on, it adds exactly the spec's parameters,
decodes token by token to the parallel forward's logits and stays causal."""

import dataclasses

import pytest
import torch

from prismlm.models.matching import count_parameters
from prismlm.models.prizma_seq import PrizmaSeqConfig, PrizmaSeqLM
from prismlm.ops.feature_maps import FEATURE_MAPS
from prismlm.ops.numerics import TOLERANCE, max_relative_error

SMALL = dict(vocab_size=64, d_model=64, n_layers=2, n_heads=2)  # d_h = 32
T = 48  # longer than the 16-token window and the 3-row conv ring
V2 = dict(gated=True, decoupled_gate=True, out_gate=True, state_norm=True)
LEVERS = {
    "additive": dict(write_mode="additive"),
    "additive-gated": dict(write_mode="additive", gated=True),
    "decoupled": dict(decoupled_gate=True),
    "out_gate": dict(out_gate=True),
    "out_gate-noconv": dict(out_gate=True, short_conv=0),  # W_g fused into the input matmul
    "state_norm": dict(state_norm=True),
    "lowrank": dict(feat_map="quad2_lowrank"),
    "lowrank-r11": dict(feat_map="quad2_lowrank", feat_rank=11),
    "v2": V2,
    "v2-lean": dict(feat_map="quad2_lowrank", feat_rank=14),
    "v2-noconv-nowindow": dict(V2, short_conv=0, use_window=False),
    **{f"v2-{fm}": dict(V2, feat_map=fm, feat_n2=40) for fm in FEATURE_MAPS},
}


def _model(seed=0, **levers) -> PrizmaSeqLM:
    torch.manual_seed(seed)
    return PrizmaSeqLM(PrizmaSeqConfig(**SMALL, chunk_size=16, **levers)).eval()


def _tokens(seed=1, length=T) -> torch.Tensor:
    return torch.randint(0, 64, (2, length), generator=torch.Generator().manual_seed(seed))


def _perturb(model: PrizmaSeqLM) -> None:
    """Move every gate off its zero-bias init so that each lever does something visible."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "state_norm" in name:
                p.add_(0.5 * torch.randn_like(p))


@pytest.mark.parametrize("levers", LEVERS.values(), ids=LEVERS.keys())
def test_decoding_token_by_token_equals_the_parallel_forward(levers):
    model = _model(**levers)
    _perturb(model)
    ids = _tokens()
    with torch.no_grad():
        full = model(ids)
        state, steps = model.init_state(2), []
        for t in range(T):
            logits, state = model._step(ids[:, t], state)
            steps.append(logits)
        _, prefilled = model.prefill(ids[:, :30])  # the parallel prefill hands over the same state
        resumed = [model._step(ids[:, t], prefilled)[0] for t in range(30, T)]
    assert max_relative_error(torch.stack(steps, dim=1), full) < TOLERANCE[torch.float32]
    assert max_relative_error(torch.stack(resumed, dim=1), full[:, 30:]) < TOLERANCE[torch.float32]


def test_the_full_v2_model_is_causal():
    model = _model(**V2)
    _perturb(model)
    ids = _tokens()
    changed = ids.clone()
    changed[:, 30] = (changed[:, 30] + 1) % 64
    with torch.no_grad():
        before, after = model(ids), model(changed)
    assert torch.allclose(before[:, :30], after[:, :30], rtol=0, atol=1e-6)  # the past is untouched
    assert (before[:, 30:] - after[:, 30:]).abs().amax() > 1e-3  # the token itself and the future move


def test_the_v2_gates_change_the_model():
    ids = _tokens()
    with torch.no_grad():
        plain, gated = _model()(ids), _model(**V2)
        _perturb(gated)
        assert (plain - gated(ids)).abs().amax() > 1e-3


def _extra_per_block(d: int, H: int, d_h: int, levers: dict) -> int:
    """The spec's ledger (§1.7): gated dH+H; decoupled_gate dH+H; out_gate d²+d; state_norm d_h."""
    return (
        (d * H + H) * levers.get("gated", False)
        + (d * H + H) * levers.get("decoupled_gate", False)
        + (d * d + d) * levers.get("out_gate", False)
        + d_h * levers.get("state_norm", False)
    )


@pytest.mark.parametrize(
    "levers",
    [dict(gated=True), dict(decoupled_gate=True), dict(out_gate=True), dict(state_norm=True), V2,
     dict(V2, feat_map="quad2_lowrank"), dict(write_mode="additive")],
    ids=["gated", "decoupled", "out_gate", "state_norm", "v2", "v2-lowrank", "additive"],
)
@pytest.mark.parametrize("shape", [(64, 2, 2), (128, 4, 3)], ids=["d64L2H2", "d128L3H4"])
def test_parameter_counts_follow_the_ledger(levers, shape):
    d, H, L = shape
    base = PrizmaSeqConfig(vocab_size=64, d_model=d, n_layers=L, n_heads=H)
    with_levers = dataclasses.replace(base, **levers)
    expected = count_parameters(base) + L * _extra_per_block(d, H, d // H, levers)
    assert count_parameters(with_levers) == expected
    assert PrizmaSeqLM(with_levers).num_parameters() == expected  # the meta count is the real one


def test_levers_off_add_no_tensors_and_explicit_off_is_the_default():
    default = _model()
    off = _model(feat_rank=0, write_mode="delta", decoupled_gate=False, out_gate=False,
                 state_norm=False)
    names = set(default.state_dict())
    assert not any(k in n for n in names for k in ("erase_proj", "gate_proj", "state_norm", "lift"))
    assert set(off.state_dict()) == names
    assert all(torch.equal(default.state_dict()[n], off.state_dict()[n]) for n in names)
    ids = _tokens()
    with torch.no_grad():
        assert torch.equal(default(ids), off(ids))


def test_the_out_gate_reads_the_pre_conv_normed_input():
    mixer = _model(out_gate=True).blocks[0].mixer
    seen = []
    mixer.gate_proj.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    xn = torch.randn(2, 10, 64)
    mixer(xn)
    assert torch.equal(seen[0], xn)


def test_state_norm_has_one_head_dim_gain_shared_by_all_heads():
    mixer = _model(state_norm=True).blocks[0].mixer
    assert mixer.state_norm.weight.shape == (mixer.head_dim,)


@pytest.mark.parametrize(
    "bad,field",
    [
        (dict(feat_rank=5), "feat_rank"),  # quad2 has no rank
        (dict(feat_map="quad2_lowrank", feat_rank=-1), "feat_rank"),
        (dict(write_mode="overwrite"), "write_mode"),
        (dict(write_mode="additive", decoupled_gate=True), "decoupled_gate"),
        (dict(out_gate=1), "out_gate"),
        (dict(state_norm="yes"), "state_norm"),
        (dict(feat_map="quad3_lowrank"), "feat_map"),
    ],
)
def test_bad_lever_configs_raise_a_value_error_naming_the_field(bad, field):
    with pytest.raises(ValueError, match=field):
        PrizmaSeqConfig(**SMALL, **bad)
