"""The fused slot tape equals the composed-map reference in value and in every gradient — for
one to three stacked writes, shared and per-row initial tapes, odd lengths, hard overwrites,
untouched (g = 0) steps and large values — and rejects malformed writes by name."""

import pytest
import torch

from prismlm.ops.numerics import TOLERANCE, max_relative_error
from prismlm.ops.tape_writes import tape_from_writes, tape_from_writes_reference

BT, S, D = 2, 5, 3


def writes_of(n_writes, t, kind, seed=0, dtype=torch.float64):
    """Write triples (g, e, a) and m0. kind: "random", "hard" (one-hot g, e = 1: overwrite a
    slot outright; every 3rd step untouched, g = 0) or "large" (|a|, |m0| ~ 1e3)."""
    gen = torch.Generator().manual_seed(seed)
    writes = []
    for _ in range(n_writes):
        g = torch.softmax(torch.randn(BT, t, S, generator=gen, dtype=dtype), -1)
        g = g * torch.rand(BT, t, 1, generator=gen, dtype=dtype)
        e = torch.rand(BT, t, D, generator=gen, dtype=dtype)
        a = torch.randn(BT, t, D, generator=gen, dtype=dtype)
        if kind == "hard":
            slot = torch.randint(0, S, (BT, t), generator=gen)
            g = torch.nn.functional.one_hot(slot, S).to(dtype)
            g[:, ::3] = 0.0
            e = torch.ones_like(e)
        elif kind == "large":
            a = 1e3 * a
        writes.append((g, e, a))
    m0 = torch.randn(S, D, generator=gen, dtype=dtype) * (1e3 if kind == "large" else 1.0)
    return writes, m0


def value_and_grads(fn, writes, m0, seed=1):
    leaves = [x.detach().clone().requires_grad_() for x in [*(x for w in writes for x in w), m0]]
    triples = [tuple(leaves[i : i + 3]) for i in range(0, len(leaves) - 1, 3)]
    tape, mean = fn(triples, leaves[-1])
    gen = torch.Generator().manual_seed(seed)
    w_tape = torch.randn(tape.shape, generator=gen, dtype=torch.float64)
    w_mean = torch.randn(mean.shape, generator=gen, dtype=torch.float64)
    loss = (tape.double() * w_tape).sum() + (mean.double() * w_mean).sum()
    return tape, mean, torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("kind", ["random", "hard", "large"])
@pytest.mark.parametrize("t", [1, 2, 7, 33])
@pytest.mark.parametrize("n_writes", [1, 2, 3])
def test_fused_tape_matches_the_composed_maps_in_value_and_gradient(n_writes, t, kind):
    writes, m0 = writes_of(n_writes, t, kind, seed=10 * n_writes + t)
    ref = value_and_grads(lambda w, m: tape_from_writes_reference(w, m, chunk=4), writes, m0)
    fused = value_and_grads(tape_from_writes, writes, m0)
    tol = TOLERANCE[torch.float64]
    assert max_relative_error(fused[0], ref[0]) < tol and max_relative_error(fused[1], ref[1]) < tol
    for i, (g, g_ref) in enumerate(zip(fused[2], ref[2], strict=True)):
        assert max_relative_error(g, g_ref) < tol, f"gradient {i}"


def test_a_per_row_initial_tape_and_fp32_inputs_match_too():
    writes, _ = writes_of(2, 9, "random")
    writes = [tuple(x.float() for x in w) for w in writes]
    m0 = torch.randn(BT, S, D)
    ref = value_and_grads(tape_from_writes_reference, writes, m0)
    fused = value_and_grads(tape_from_writes, writes, m0)
    assert fused[0].dtype == torch.float32
    for got, want in zip([fused[0], fused[1], *fused[2]], [ref[0], ref[1], *ref[2]], strict=True):
        assert got.shape == want.shape
        assert max_relative_error(got, want) < TOLERANCE[torch.float32]


def test_a_write_at_step_t_changes_no_earlier_step():
    writes, m0 = writes_of(2, 12, "random")
    tape, _ = tape_from_writes(writes, m0)
    bumped = [tuple(x.clone() for x in w) for w in writes]
    bumped[1][2][:, 6] += 5.0  # the top write's add vector at t = 6
    tape2, _ = tape_from_writes(bumped, m0)
    assert torch.equal(tape[:, :6], tape2[:, :6]) and not torch.equal(tape[:, 6:], tape2[:, 6:])


def test_zero_length_is_empty_and_bad_shapes_name_the_culprit():
    writes, m0 = writes_of(1, 0, "random")
    tape, mean = tape_from_writes(writes, m0)
    assert tape.shape == (BT, 0, S, D) and mean.shape == (BT, 0, D)
    writes, m0 = writes_of(2, 4, "random")
    bad = [writes[0], (writes[1][0], writes[1][1][:, :, :2], writes[1][2])]
    with pytest.raises(ValueError, match="write 1"):
        tape_from_writes(bad, m0)
    with pytest.raises(ValueError, match="m0"):
        tape_from_writes(writes, m0[:, :2])
    with pytest.raises(ValueError, match="at least one"):
        tape_from_writes([], m0)
