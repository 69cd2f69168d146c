"""Router (top-k, ε-soft straight-through, load balance) and the symbolic primitives."""

import pytest
import torch

from prismlm.layers.router import PolymorphicRouter, load_balance_loss, top_k_route
from prismlm.layers.symbolic import (
    PRIMITIVES,
    SymbolicExpert,
    mix_primitives,
    mix_primitives_reference,
    straight_through_one_hot,
)
from prismlm.ops.numerics import TOLERANCE, max_relative_error


def test_load_balance_is_minimal_at_uniform_routing():
    n_exp = 3
    uniform = top_k_route(torch.zeros(300, n_exp), 1)
    # With zero logits top-1 ties break to expert 0: make the hard choices uniform explicitly.
    mask = torch.eye(n_exp, dtype=torch.bool).repeat(100, 1)
    best = load_balance_loss(mask, uniform.probs)
    assert best.item() == pytest.approx(1.0)
    g = torch.Generator().manual_seed(0)
    prev = best
    for bias in (0.5, 1.0, 2.0, 4.0):  # routing increasingly collapsed onto expert 0
        logits = torch.randn(300, n_exp, generator=g)
        logits[:, 0] += bias
        loss = top_k_route(logits, 1).balance_loss
        assert loss > prev
        prev = loss
    # Sharp routing (probabilities equal to the hard fractions): L = E Σ f² > 1 unless f is uniform.
    for counts in ([300, 0, 0], [150, 150, 0], [120, 90, 90]):
        choice = torch.repeat_interleave(torch.arange(n_exp), torch.tensor(counts))
        mask = torch.nn.functional.one_hot(choice, n_exp).bool()
        sharp = load_balance_loss(mask, mask.float())
        f = torch.tensor(counts, dtype=torch.float32) / 300
        assert sharp.item() == pytest.approx(n_exp * float((f * f).sum()))
        assert sharp > best


@pytest.mark.parametrize("k", [1, 2])
def test_top_k_routing_is_hard_forward_and_soft_backward(k):
    router = PolymorphicRouter(d_model=8, d_mem=4, num_experts=3, top_k=k)
    x, tape = torch.randn(50, 8), torch.randn(50, 4)
    r = router(x, tape)
    assert (r.mask.sum(-1) == k).all()
    assert (r.weights[~r.mask] == 0).all()
    assert (r.weights[r.mask] > 0).all()
    # Outputs of the selected experts only; the router still receives a gradient.
    expert_out = torch.randn(50, 3)
    (r.weights * expert_out).sum().backward()
    assert router.proj.weight.grad is not None
    assert router.proj.weight.grad.abs().sum() > 0


def test_epsilon_soft_keeps_the_forward_value_near_the_hard_choice():
    r = top_k_route(torch.randn(10, 3), 1, epsilon=0.05)
    sel = r.weights[r.mask]
    assert ((sel > 0.95) & (sel <= 1.0 + 1e-6)).all()


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_every_primitive_has_finite_nonzero_gradients(name):
    g = torch.Generator().manual_seed(1)
    args = [torch.randn(16, 10, generator=g, requires_grad=True) for _ in range(3)]
    out = PRIMITIVES[name](*args)
    assert out.shape == args[0].shape
    (out * torch.randn(out.shape, generator=g)).sum().backward()
    grad = args[0].grad
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_symbolic_expert_is_one_hot_forward_soft_backward():
    logits = torch.randn(5, 6, requires_grad=True)
    p = straight_through_one_hot(logits)
    assert ((p == 0) | (p == 1)).all() and (p.sum(-1) == 1).all()
    (p * torch.randn(5, 6)).sum().backward()
    assert logits.grad.abs().sum() > 0
    expert = SymbolicExpert(12)
    out = expert(torch.randn(7, 12))
    out.sum().backward()
    assert out.shape == (7, 12)
    assert expert.w_sel.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", ["random", "zero_halves", "large"])
def test_mixing_without_the_stack_equals_the_stacked_reference(kind):
    """Value and gradients (to a1, a2, a3 and the selector logits) of the fused mix equal the
    stacked Σ_i p_i prim_i, on random arguments, on a1 whose halves are zero (compare's eps
    branch) and on |a| ~ 1e3 (saturated sigmoids and softmax); d odd, so compare drops one."""
    g = torch.Generator().manual_seed(3)
    args = [torch.randn(9, 7, generator=g, dtype=torch.float64) for _ in range(3)]
    if kind == "zero_halves":
        args[0][:4] = 0.0
    elif kind == "large":
        args = [1e3 * a for a in args]
    logits = torch.randn(9, 6, generator=g, dtype=torch.float64)
    weight = torch.randn(9, 7, generator=g, dtype=torch.float64)

    def run(mix):
        leaves = [x.clone().requires_grad_() for x in (*args, logits)]
        out = mix(straight_through_one_hot(leaves[-1]), *leaves[:3])
        return out, torch.autograd.grad((out * weight).sum(), leaves)

    (out, grads), (ref, ref_grads) = run(mix_primitives), run(mix_primitives_reference)
    assert max_relative_error(out, ref) < TOLERANCE[torch.float64]
    for got, want in zip(grads, ref_grads, strict=True):
        assert max_relative_error(got, want) < TOLERANCE[torch.float64]
