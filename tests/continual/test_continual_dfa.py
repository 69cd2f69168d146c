"""The local rule: DFA never transports forward weights; exact mode is true backprop."""

import pytest
import torch
from torch.overrides import TorchFunctionMode

from prismlm.continual.learner import Prizma, PrizmaConfig
from prismlm.continual.local_rule import ExpertParams, dfa_credit, local_update

R, N, D, H, C = 3, 16, 6, 10, 4  # distinct sizes: a contraction's size names the dimension


def _params(seed=0, zero_feedback=False) -> ExpertParams:
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g) * 0.5

    p = ExpertParams(We=rnd(R, H, D), be=rnd(R, H), Wd=rnd(R, D, H), bd=rnd(R, D),
                     Wc=rnd(R, C, H), bc=rnd(R, C), Bd=rnd(R, H, D), Bc=rnd(R, H, C))
    if zero_feedback:
        p.Bd.zero_()
        p.Bc.zero_()
    return p


def _batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(R, N, D, generator=g)
    y = torch.nn.functional.one_hot(torch.randint(0, C, (R, N), generator=g), C).float()
    return x, y


def _step(p, mode):
    x, y = _batch()
    return local_update(p, x, y, 0.05, 0.1, 1.0, [(0, R, mode)])


def test_dfa_encoder_is_silent_without_feedback_matrices():
    p = _params(zero_feedback=True)
    new, _ = _step(p, "random")
    assert torch.equal(new["We"], p.We) and torch.equal(new["be"], p.be)
    assert not torch.equal(new["Wd"], p.Wd) and not torch.equal(new["Wc"], p.Wc)


def test_exact_encoder_moves_without_feedback_matrices():
    p = _params(zero_feedback=True)
    new, _ = _step(p, "exact")
    assert not torch.equal(new["We"], p.We)


def test_dfa_encoder_update_equals_its_formula():
    p = _params()
    x, y = _batch()
    new, aux = local_update(p, x, y, 0.05, 0.1, 1.0, [(0, R, "random")])
    e, d, z = aux["E"], aux["D"], aux["Z"]
    g = (e @ p.Bd.transpose(1, 2) + d @ p.Bc.transpose(1, 2)) * (1 - z**2)
    expected = p.We + 0.05 * g.transpose(1, 2) @ x / N
    assert torch.allclose(new["We"], expected, atol=1e-6)


def test_dfa_credit_reads_only_the_feedback_matrices():
    e, d = torch.randn(R, N, D), torch.randn(R, N, C)
    p = _params()
    assert torch.allclose(dfa_credit(e, d, p.Bd, p.Bc, 1.0),
                          e @ p.Bd.transpose(1, 2) + d @ p.Bc.transpose(1, 2), atol=1e-6)


class _Contractions(TorchFunctionMode):
    """Record every matrix product: the contracted size of each operand, with the operand."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.bmm, torch.matmul, torch.Tensor.__matmul__, torch.Tensor.bmm):
            a, b = args[0], args[1]
            self.calls.append((a, a.shape[-1], "left"))
            self.calls.append((b, b.shape[-2], "right"))
        elif func in (torch.baddbmm, torch.Tensor.baddbmm):
            a, b = args[1], args[2]
            self.calls.append((a, a.shape[-1], "left"))
            self.calls.append((b, b.shape[-2], "right"))
        return func(*args, **(kwargs or {}))


def _contracted_forward_weights(mode):
    p = _params()
    with _Contractions() as rec:
        new, _ = _step(p, mode)
    weights = [p.Wd, p.Wc, new["Wd"], new["Wc"]]
    ptrs = {w.untyped_storage().data_ptr() for w in weights}
    return [size for t, size, _ in rec.calls if t.untyped_storage().data_ptr() in ptrs]


def test_dfa_step_contracts_forward_weights_only_over_their_inputs():
    sizes = _contracted_forward_weights("random")
    assert sizes, "the forward pass must read W_d and W_c"
    assert set(sizes) == {H}  # never over the output dimension: no W^T in the feedback path


def test_exact_step_is_caught_transporting_weights():
    assert set(_contracted_forward_weights("exact")) - {H}


def test_exact_encoder_update_is_minus_lr_times_the_autograd_gradient():
    p = _params()
    x, y = _batch()
    new, _ = local_update(p, x, y, 0.05, 0.1, 1.0, [(0, R, "exact")])
    We = p.We.clone().requires_grad_(True)
    z = torch.tanh(x @ We.transpose(1, 2) + p.be[:, None])
    e = x - (z @ p.Wd.transpose(1, 2) + p.bd[:, None])
    logits = z @ p.Wc.transpose(1, 2) + p.bc[:, None]
    ce = -(torch.log_softmax(logits, -1) * y).sum(-1).mean(-1)
    loss = (0.5 * (e**2).sum((-1, -2)) / N + ce).sum()
    (grad,) = torch.autograd.grad(loss, We)
    assert torch.allclose(new["We"], p.We - 0.05 * grad, atol=1e-5)


def test_feedback_matrices_never_change_during_training():
    g = torch.Generator().manual_seed(0)
    learner = Prizma(PrizmaConfig(hidden=H, n_experts=2, commit_after=0), [0, 1], D, C)
    bd, bc = learner.params["Bd"].clone(), learner.params["Bc"].clone()
    for _ in range(5):
        learner.observe(torch.randn(2, N, D, generator=g), torch.randint(0, C, (2, N),
                                                                         generator=g))
    assert torch.equal(learner.params["Bd"], bd) and torch.equal(learner.params["Bc"], bc)


def test_unknown_feedback_mode_is_rejected():
    with pytest.raises(ValueError, match="feedback"):
        PrizmaConfig(feedback="transpose")
