"""Every form of the delta rule (chunked, step, recurrent) equals a float64 evaluation of the
definition on outputs, final state and every gradient, within `numerics.TOLERANCE` of its input
dtype — on random and strongly correlated keys, with β up to 0.99, with and without decay and S0.
"""

import pytest
import torch
import torch.nn.functional as F

from prismlm.ops.delta_rule import (
    _unit_lower_inverse,
    delta_rule,
    delta_rule_chunked,
    delta_rule_recurrent,
    delta_rule_step,
)
from prismlm.ops.numerics import TOLERANCE, max_relative_error

NAMES = ("q", "k", "v", "beta", "alpha", "S0")

# (B, T, H, K, V, chunk_size). Half types stay tiny: bf16/fp16 arithmetic is slow on CPU.
SHAPES = {
    torch.float32: [(2, 1, 2, 16, 8, 64), (2, 65, 3, 48, 16, 64), (1, 130, 2, 64, 32, 64)],
    torch.bfloat16: [(1, 1, 2, 16, 8, 64), (2, 37, 2, 32, 16, 16), (1, 80, 1, 32, 16, 64)],
    torch.float16: [(1, 1, 2, 16, 8, 64), (2, 37, 2, 32, 16, 16), (1, 80, 1, 32, 16, 64)],
}
CASES = [(dtype, shape) for dtype, shapes in SHAPES.items() for shape in shapes]


def unit_keys(B, H, T, K, cosine, g):
    """Unit vectors whose pairwise cosine is ≈ `cosine`: a shared direction plus noise."""
    shared = F.normalize(torch.randn(B, H, 1, K, generator=g, dtype=torch.float64), dim=-1)
    noise = F.normalize(torch.randn(B, H, T, K, generator=g, dtype=torch.float64), dim=-1)
    return F.normalize(cosine**0.5 * shared + (1 - cosine) ** 0.5 * noise, dim=-1)


def make_inputs(B, T, H, K, V, *, cosine=0.0, gated=True, with_state=True, beta_max=0.99, seed=0):
    """[q, k, v, beta, alpha | None, S0 | None] in float64."""
    g = torch.Generator().manual_seed(seed)
    q, k = unit_keys(B, H, T, K, cosine, g), unit_keys(B, H, T, K, cosine, g)
    v = torch.randn(B, H, T, V, generator=g, dtype=torch.float64)
    beta = beta_max * (0.5 + 0.5 * torch.rand(B, H, T, generator=g, dtype=torch.float64))
    alpha = 0.5 + 0.5 * torch.rand(B, H, T, generator=g, dtype=torch.float64) if gated else None
    s0 = torch.randn(B, H, V, K, generator=g, dtype=torch.float64) if with_state else None
    return [q, k, v, beta, alpha, s0]


def as_float(inputs):
    return [None if x is None else x.float() for x in inputs]


def run_steps(q, k, v, beta, alpha, s0):
    """The decode step applied token by token (same contract as the sequence forms)."""
    B, H, T, K = q.shape
    S = s0 if s0 is not None else torch.zeros(B, H, v.shape[-1], K, dtype=q.dtype)
    outs = []
    for t in range(T):
        a_t = None if alpha is None else alpha[:, :, t]
        o_t, S = delta_rule_step(q[:, :, t], k[:, :, t], v[:, :, t], beta[:, :, t], a_t, S)
        outs.append(o_t)
    return torch.stack(outs, dim=2), S


def outputs_and_grads(fn, inputs, weights):
    leaves = [None if x is None else x.detach().clone().requires_grad_() for x in inputs]
    o, s = fn(*leaves)
    loss = (o.double() * weights[0]).sum() + (s.double() * weights[1]).sum()
    present = [x for x in leaves if x is not None]
    grads = dict(zip([n for n, x in zip(NAMES, leaves, strict=True) if x is not None],
                     torch.autograd.grad(loss, present), strict=True))
    return o, s, grads


FORMS = {
    "chunked": lambda chunk: lambda *a: delta_rule_chunked(*a, chunk_size=chunk),
    "recurrent": lambda chunk: delta_rule_recurrent,
    "step": lambda chunk: run_steps,
}


@pytest.mark.parametrize("dtype,shape", CASES, ids=lambda x: str(x).replace("torch.", ""))
@pytest.mark.parametrize("gated", [False, True], ids=["nodecay", "decay"])
@pytest.mark.parametrize("with_state", [False, True], ids=["noS0", "S0"])
@pytest.mark.parametrize("cosine", [0.0, 0.95], ids=["random", "cos0.95"])
def test_every_form_matches_the_float64_definition(dtype, shape, gated, with_state, cosine):
    B, T, H, K, V, chunk = shape
    exact = make_inputs(B, T, H, K, V, cosine=cosine, gated=gated, with_state=with_state)
    rounded = [None if x is None else x.to(dtype) for x in exact]
    reference_inputs = [None if x is None else x.double() for x in rounded]
    g = torch.Generator().manual_seed(1)
    weights = (torch.randn(B, H, T, V, generator=g, dtype=torch.float64),
               torch.randn(B, H, V, K, generator=g, dtype=torch.float64))
    o_ref, s_ref, g_ref = outputs_and_grads(delta_rule_recurrent, reference_inputs, weights)
    tol = TOLERANCE[dtype]
    for form, make in FORMS.items():
        o, s, grads = outputs_and_grads(make(chunk), rounded, weights)
        assert o.dtype == dtype and s.dtype == torch.float32, form  # state kept in fp32
        assert max_relative_error(o, o_ref) < tol, f"{form}: outputs"
        assert max_relative_error(s, s_ref) < tol, f"{form}: final state"
        for name, grad in grads.items():
            assert grad.dtype == dtype, f"{form}: d{name} dtype"
            assert max_relative_error(grad, g_ref[name]) < tol, f"{form}: d{name}"


def test_the_unit_triangular_inverse_is_accurate_on_correlated_keys():
    # The old 16-wide product-of-powers inverse lost 2e-4 here (intermediates ~3e4 cancelled).
    q, k, v, beta, _, _ = make_inputs(1, 128, 2, 64, 8, cosine=0.9, beta_max=0.99, gated=False)
    kc = k.reshape(1, 2, 2, 64, 64)
    A = (beta.reshape(1, 2, 2, 64)[..., None] * (kc @ kc.transpose(-1, -2))).tril(-1)
    exact = torch.linalg.inv(torch.eye(64, dtype=torch.float64) + A)
    assert max_relative_error(_unit_lower_inverse(A.float()), exact) < 1e-5


def test_half_inputs_under_autocast_keep_fp32_accuracy():
    exact = make_inputs(1, 64, 2, 32, 16, cosine=0.95)
    fp32 = as_float(exact)
    o_ref, s_ref = delta_rule_recurrent(*exact)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        o, s = delta_rule_chunked(*fp32)
    assert max_relative_error(o, o_ref) < TOLERANCE[torch.float32]
    assert max_relative_error(s, s_ref) < TOLERANCE[torch.float32]


@pytest.mark.parametrize("field", ["k", "v", "beta", "alpha"])
@pytest.mark.parametrize("form", ["chunked", "dispatch", "recurrent"])
def test_a_nan_at_step_5_reaches_only_later_outputs(field, form):
    inputs = as_float(make_inputs(2, 40, 2, 16, 8))
    index = NAMES.index(field)
    inputs[index] = inputs[index].clone()
    inputs[index][:, :, 5] = float("nan")
    fn = {"chunked": lambda *a: delta_rule_chunked(*a, chunk_size=16),
          "dispatch": delta_rule, "recurrent": delta_rule_recurrent}[form]
    o, s = fn(*inputs)
    step_has_nan = torch.isnan(o).any(-1).all(0).all(0)  # [T]
    assert not step_has_nan[:6].any()  # o_5 = S_4 q_5 is read before the bad write
    assert step_has_nan[6:].all() and torch.isnan(s).all()


@pytest.mark.parametrize("with_state", [False, True])
def test_zero_length_sequences_return_empty_outputs_and_the_initial_state(with_state):
    q, k, v, beta, alpha, s0 = as_float(make_inputs(2, 0, 3, 8, 4, with_state=with_state))
    for fn in (delta_rule_chunked, delta_rule_recurrent, delta_rule):
        o, s = fn(q, k, v, beta, alpha, s0)
        assert o.shape == (2, 3, 0, 4) and s.shape == (2, 3, 4, 8)
        assert torch.equal(s, s0 if with_state else torch.zeros_like(s))


def test_chunked_handles_strong_decay_at_long_length_without_overflow():
    q, k, v, beta, _, s0 = as_float(make_inputs(1, 300, 1, 48, 16, gated=False))
    alpha = torch.full_like(beta, 1e-3)  # log-decay ≈ −6.9 per step: raw ratios would overflow
    o_ref, s_ref = delta_rule_recurrent(q.double(), k.double(), v.double(), beta.double(),
                                        alpha.double(), s0.double())
    o, s = delta_rule_chunked(q, k, v, beta, alpha, s0, chunk_size=64)
    assert torch.isfinite(o).all()
    assert max_relative_error(o, o_ref) < TOLERANCE[torch.float32]
    assert max_relative_error(s, s_ref) < TOLERANCE[torch.float32]


def test_recurrent_and_chunked_pass_float64_gradcheck():
    leaves = [x.requires_grad_() for x in make_inputs(1, 8, 1, 5, 3)]
    assert torch.autograd.gradcheck(lambda *a: delta_rule_recurrent(*a), leaves, fast_mode=True)
    assert torch.autograd.gradcheck(lambda *a: delta_rule_chunked(*a, chunk_size=3), leaves, fast_mode=True)


def test_read_happens_before_the_write():
    q, k, v, beta, _, _ = as_float(make_inputs(2, 10, 3, 16, 8))
    o, _ = delta_rule_chunked(q, k, v, beta)
    assert torch.equal(o[:, :, 0], torch.zeros_like(o[:, :, 0]))  # S_0 = 0 gives o_0 = 0 exactly
    k2, v2 = k.clone(), v.clone()
    k2[:, :, -1] = F.normalize(torch.randn_like(k2[:, :, -1]), dim=-1)
    v2[:, :, -1] = torch.randn_like(v2[:, :, -1])
    o2, _ = delta_rule_chunked(q, k2, v2, beta)
    assert torch.equal(o, o2)  # the last (k, v) never reaches any output


def test_overwrite_keeps_the_last_binding():
    key = F.normalize(torch.randn(4), dim=0)
    v0, v1 = torch.randn(3), torch.randn(3)
    k = key.expand(1, 1, 3, 4).clone()
    v = torch.stack((v0, v1, torch.zeros(3)))[None, None]
    beta = torch.tensor([[[0.99, 0.99, 0.0]]])
    o, _ = delta_rule_recurrent(k, k, v, beta)
    expected = 0.99 * v1 + 0.99 * 0.01 * v0
    assert torch.allclose(o[0, 0, 2], expected, atol=1e-6)


def test_bad_shapes_are_rejected_with_a_clear_message():
    q, k, v, beta, _, _ = as_float(make_inputs(1, 5, 1, 8, 4))
    with pytest.raises(ValueError, match="beta must be"):
        delta_rule(q, k, v, beta[..., :4])
    with pytest.raises(ValueError, match="unknown delta-rule backend"):
        delta_rule(q, k, v, beta, backend="magic")
    with pytest.raises(ValueError, match="chunk_size must be"):
        delta_rule_chunked(q, k, v, beta, chunk_size=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_fla_kernel_matches_the_float64_definition_on_gpu(gated, with_state):
    pytest.importorskip("fla")
    exact = [None if x is None else x.cuda() for x in
             make_inputs(2, 130, 3, 40, 32, cosine=0.9, gated=gated, with_state=with_state)]
    rounded = [None if x is None else x.to(torch.bfloat16) for x in exact]
    o_ref, s_ref = delta_rule_recurrent(*[None if x is None else x.double() for x in rounded])
    o, s = delta_rule(*rounded, backend="fla")
    assert o.dtype == torch.bfloat16 and s.dtype == torch.float32
    assert max_relative_error(o, o_ref) < TOLERANCE[torch.bfloat16]
    assert max_relative_error(s, s_ref) < TOLERANCE[torch.bfloat16]


# --- The erase strength β^e (write_mode additive: β^e = 0; decoupled_gate: its own gate) ---

ERASE_NAMES = NAMES + ("erase",)
ERASE_CHUNK = 16


def erase_inputs(B, T, H, K, V, kind, *, cosine, gated, seed=0):
    """make_inputs plus an erase tensor of the given kind, all float64."""
    inputs = make_inputs(B, T, H, K, V, cosine=cosine, gated=gated, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    beta = inputs[3]
    if kind == "random":  # the decoupled gate: any value in [0, 0.99], unrelated to β
        erase = 0.99 * torch.rand(B, H, T, generator=g, dtype=torch.float64)
    elif kind == "additive":
        erase = torch.zeros_like(beta)
    else:  # "extreme": both gates saturated at 0 or 0.99, independently
        pick = lambda: 0.99 * (torch.rand(B, H, T, generator=g) < 0.5).double()  # noqa: E731
        inputs[3], erase = pick(), pick()
    return inputs + [erase]


def with_erase(form, chunk):
    if form == "chunked":
        return lambda q, k, v, b, a, s, e: delta_rule_chunked(q, k, v, b, a, s, chunk, erase=e)
    if form == "dispatch":
        return lambda q, k, v, b, a, s, e: delta_rule(q, k, v, b, a, s, chunk, erase=e)
    return lambda q, k, v, b, a, s, e: run_steps_erase(q, k, v, b, a, s, e)


def run_steps_erase(q, k, v, beta, alpha, s0, erase):
    B, H, T, K = q.shape
    S = s0 if s0 is not None else torch.zeros(B, H, v.shape[-1], K, dtype=q.dtype)
    outs = []
    for t in range(T):
        a_t = None if alpha is None else alpha[:, :, t]
        o_t, S = delta_rule_step(q[:, :, t], k[:, :, t], v[:, :, t], beta[:, :, t], a_t, S, erase[:, :, t])
        outs.append(o_t)
    return torch.stack(outs, dim=2), S


def erase_outputs_and_grads(fn, inputs, weights):
    leaves = [None if x is None else x.detach().clone().requires_grad_() for x in inputs]
    o, s = fn(*leaves)
    loss = (o.double() * weights[0]).sum() + (s.double() * weights[1]).sum()
    names = [n for n, x in zip(ERASE_NAMES, leaves, strict=True) if x is not None]
    grads = torch.autograd.grad(loss, [x for x in leaves if x is not None])
    return o, s, dict(zip(names, grads, strict=True))


@pytest.mark.parametrize("T", [1, ERASE_CHUNK - 1, ERASE_CHUNK, ERASE_CHUNK + 1, 37])
@pytest.mark.parametrize("kind", ["random", "additive", "extreme"])
@pytest.mark.parametrize("gated", [False, True], ids=["nodecay", "decay"])
@pytest.mark.parametrize("cosine", [0.0, 0.95], ids=["random", "cos0.95"])
def test_erase_forms_match_the_float64_reference_in_value_and_gradient(T, kind, gated, cosine):
    B, H, K, V = 2, 2, 24, 8
    exact = erase_inputs(B, T, H, K, V, kind, cosine=cosine, gated=gated)
    rounded = [None if x is None else x.float() for x in exact]
    g = torch.Generator().manual_seed(1)
    weights = (torch.randn(B, H, T, V, generator=g, dtype=torch.float64),
               torch.randn(B, H, V, K, generator=g, dtype=torch.float64))
    ref_inputs = [None if x is None else x.double() for x in rounded]
    o_ref, s_ref, g_ref = erase_outputs_and_grads(delta_rule_recurrent, ref_inputs, weights)
    tol = TOLERANCE[torch.float32]
    for form in ("chunked", "dispatch", "step"):
        o, s, grads = erase_outputs_and_grads(with_erase(form, ERASE_CHUNK), rounded, weights)
        assert max_relative_error(o, o_ref) < tol, f"{form}: outputs"
        assert max_relative_error(s, s_ref) < tol, f"{form}: final state"
        for name, grad in grads.items():
            assert max_relative_error(grad, g_ref[name]) < tol, f"{form}: d{name}"


def test_erase_equal_to_beta_is_the_plain_delta_rule():
    q, k, v, beta, alpha, s0 = as_float(make_inputs(2, 40, 2, 16, 8, cosine=0.5))
    for fn in (delta_rule_recurrent, lambda *a, **kw: delta_rule_chunked(*a, chunk_size=16, **kw)):
        o_ref, s_ref = fn(q, k, v, beta, alpha, s0)
        o, s = fn(q, k, v, beta, alpha, s0, erase=beta)
        assert max_relative_error(o, o_ref) < TOLERANCE[torch.float32]
        assert max_relative_error(s, s_ref) < TOLERANCE[torch.float32]


def test_zero_erase_is_causal_linear_attention():
    # β^e = 0, α = 1: S_t = Σ_{j≤t} β_j v_j k_jᵀ, so o_t = Σ_{j<t} β_j (q_t·k_j) v_j.
    q, k, v, beta, _, _ = make_inputs(1, 30, 2, 16, 8)
    o, _ = delta_rule_chunked(q, k, v, beta, erase=torch.zeros_like(beta), chunk_size=8)
    scores = (q @ k.transpose(-1, -2)).tril(-1) * beta[:, :, None, :]
    assert max_relative_error(o, scores @ v) < TOLERANCE[torch.float64]


@pytest.mark.parametrize("form", ["chunked", "dispatch", "recurrent"])
def test_a_nan_erase_at_step_5_reaches_only_later_outputs(form):
    q, k, v, beta, alpha, s0 = as_float(make_inputs(2, 40, 2, 16, 8))
    erase = beta.clone() * 0.5
    erase[:, :, 5] = float("nan")
    fn = {"chunked": lambda *a, **kw: delta_rule_chunked(*a, chunk_size=16, **kw),
          "dispatch": delta_rule, "recurrent": delta_rule_recurrent}[form]
    o, s = fn(q, k, v, beta, alpha, s0, erase=erase)
    step_has_nan = torch.isnan(o).any(-1).all(0).all(0)
    assert not step_has_nan[:6].any()
    assert step_has_nan[6:].all() and torch.isnan(s).all()


def test_bad_erase_is_rejected_with_a_clear_message():
    q, k, v, beta, _, _ = as_float(make_inputs(1, 5, 1, 8, 4))
    with pytest.raises(ValueError, match="erase must be"):
        delta_rule(q, k, v, beta, erase=beta[..., :4])
    with pytest.raises(ValueError, match="erase must lie"):
        delta_rule(q, k, v, beta, erase=beta + 1.5, validate=True)
