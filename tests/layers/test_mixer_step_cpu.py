"""The fused CPU decode kernels equal the mixer's torch step (the reference), config by config."""

import copy

import pytest
import torch

import prismlm.layers.prizma_mixer as mixer_module
from prismlm.layers.prizma_mixer import PrizmaMixer
from prismlm.ops.cpu_kernels import AVAILABLE, cpu_kernels

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="numba not installed")

# fp64 checks the maths; fp32 only rounding (loop-order sums vs MKL blocking, 9 steps of a state)
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-12)}

CONFIGS = {
    "default": {},
    "gated": dict(gated=True),
    "additive": dict(write_mode="additive"),
    "decoupled": dict(decoupled_gate=True, gated=True),
    "out_gate_behind_conv": dict(out_gate=True),
    "out_gate_fused": dict(out_gate=True, short_conv=0),
    "state_norm": dict(state_norm=True),
    "no_window": dict(use_window=False),
    "no_conv": dict(short_conv=0),
    "lowrank": dict(feat_map="quad2_lowrank", feat_rank=5),
    "none": dict(feat_map="none"),
}
INPUTS = ("random", "extreme", "correlated")


def _rows(kind: str, steps: int, batch: int, d: int, dtype, gen) -> list[torch.Tensor]:
    x = torch.randn(steps, batch, d, generator=gen, dtype=dtype)
    if kind == "extreme":  # gate logits far into the sigmoid's tails, huge q/k norms
        x = 30.0 * x
    if kind == "correlated":  # the same key over and over, then a zero row (norm at eps)
        x = x[:1].expand(steps, batch, d).clone()
        x[-2] = 0.0
    return list(x)


def _run(mixer, rows, kernels: bool):
    state = mixer.init_state(rows[0].shape[0], dtype=rows[0].dtype)
    with torch.no_grad(), cpu_kernels(kernels):
        outs = [mixer.step(x, state, residual=x) for x in rows]
    return outs, state


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_kernel_step_equals_the_torch_step(name, inputs, dtype, monkeypatch):
    torch.manual_seed(0)
    cfg = dict(d_model=16, n_heads=2, feat_n2=12, window=3, **CONFIGS[name])
    mixer = PrizmaMixer(**cfg).to(dtype)
    with torch.no_grad():  # gate biases away from 0, so the gates matter
        for proj in (mixer.beta_proj, mixer.alpha_proj, mixer.erase_proj):
            if proj is not None:
                proj.bias.uniform_(-2, 2)
    rows = _rows(inputs, 9, 3, 16, dtype, torch.Generator().manual_seed(1))  # 9 > window: wraps
    calls = []
    real = mixer_module.mixer_core_step
    monkeypatch.setattr(mixer_module, "mixer_core_step", lambda *a: (calls.append(1), real(*a)))
    out_kernel, state_kernel = _run(mixer, rows, True)
    assert len(calls) == len(rows)  # the kernel path ran
    out_torch, state_torch = _run(mixer, rows, False)
    assert len(calls) == len(rows)  # ... and the reference did not
    for a, b in zip(out_kernel, out_torch, strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])
    for field in ("S", "conv_ring", "window_k", "window_v", "window_valid"):
        a, b = getattr(state_kernel, field), getattr(state_torch, field)
        if a is not None:
            torch.testing.assert_close(a, b, **TOL[dtype]) if a.is_floating_point() else None
            assert a.shape == b.shape
    assert state_kernel.position == state_torch.position == len(rows)


@pytest.mark.parametrize("prompt", [1, 2, 5])  # the window (3) part-filled, just full, wrapped
def test_kernel_step_continues_a_prefilled_state_exactly_as_forward(prompt):
    torch.manual_seed(0)
    mixer = PrizmaMixer(16, 2, feat_n2=12, window=3).eval()
    x = torch.randn(2, 11, 16)
    with torch.no_grad():
        full = mixer(x)
        _, state = mixer(x[:, :prompt], return_state=True)
        steps = [mixer.step(x[:, t], state) for t in range(prompt, 11)]
    torch.testing.assert_close(torch.stack(steps, 1), full[:, prompt:], **TOL[torch.float32])


@pytest.mark.parametrize("why", ["grad", "rand_linear", "off", "state_in_a_graph"])
def test_the_torch_step_runs_where_the_kernels_do_not_apply(why, monkeypatch):
    torch.manual_seed(0)
    mixer = PrizmaMixer(16, 2, feat_map="rand_linear" if why == "rand_linear" else "quad2", feat_n2=12)
    calls = []
    monkeypatch.setattr(mixer_module, "mixer_core_step", lambda *a: calls.append(1))
    state = mixer.init_state(1)
    if why == "state_in_a_graph":  # e.g. a state a training loop carried across segments
        state.S = state.S + torch.zeros((), requires_grad=True)
    with cpu_kernels(why != "off"), torch.set_grad_enabled(why == "grad"):
        out = mixer.step(torch.randn(1, 16), state if why == "state_in_a_graph" else copy.deepcopy(state))
    assert not calls and out.shape == (1, 16)
    assert out.requires_grad == (why == "grad")
