"""Which backend a delta-rule call runs on: fla only where its kernel can take the call.

The fla kernel itself is checked against the float64 definition in test_delta_rule.py (-m gpu)."""

import warnings

import pytest
import torch

from prismlm.ops import delta_rule_fla as dispatch
from prismlm.ops.delta_rule import delta_rule, delta_rule_chunked
from prismlm.ops.delta_rule_fla import FLA_MAX_KEY_DIM, select_backend, warn_once

BF16 = torch.bfloat16


def test_auto_uses_fla_for_half_inputs_on_cuda_within_its_key_limit():
    assert select_backend("auto", "cuda", BF16, 64, fla_installed=True) == ("fla", None)
    assert select_backend("auto", "cuda", torch.float16, FLA_MAX_KEY_DIM, True) == ("fla", None)


@pytest.mark.parametrize("key_dim", [FLA_MAX_KEY_DIM + 1, 320])
def test_keys_wider_than_fla_allows_fall_back_with_a_warning(key_dim):
    backend, warning = select_backend("auto", "cuda", BF16, key_dim, fla_installed=True)
    assert backend == "chunked" and str(FLA_MAX_KEY_DIM) in warning


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_full_precision_inputs_fall_back_because_fla_rejects_them(dtype):
    backend, warning = select_backend("auto", "cuda", dtype, 64, fla_installed=True)
    assert backend == "chunked" and "bf16/fp16" in warning


@pytest.mark.parametrize("device,installed", [("cpu", True), ("cpu", False), ("cuda", False)])
def test_without_fla_or_cuda_the_chunked_form_is_simply_the_path(device, installed):
    assert select_backend("auto", device, BF16, 64, installed) == ("chunked", None)


def test_explicit_backends_are_honoured_or_rejected_clearly():
    assert select_backend("chunked", "cuda", BF16, 64, True) == ("chunked", None)
    assert select_backend("recurrent", "cpu", BF16, 9999, False) == ("recurrent", None)
    with pytest.raises(ValueError, match="K <= 256"):
        select_backend("fla", "cuda", BF16, 320, True)
    with pytest.raises(ValueError, match="unknown delta-rule backend"):
        select_backend("magic", "cpu", BF16, 64, False)


def test_requesting_fla_on_cpu_is_a_value_error():
    q = torch.randn(1, 1, 4, 8)
    with pytest.raises(ValueError, match="CUDA only"):
        delta_rule(q, q, torch.randn(1, 1, 4, 2), torch.rand(1, 1, 4), backend="fla")


def test_the_fallback_warning_is_given_once(monkeypatch):
    monkeypatch.setattr(dispatch, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            warn_once("delta_rule: falling back (test)")
    assert len(caught) == 1 and issubclass(caught[0].category, RuntimeWarning)



def test_validate_rejects_gates_out_of_range_and_is_off_by_default():
    import pytest
    import torch

    from prismlm.ops import delta_rule

    q = k = torch.nn.functional.normalize(torch.randn(1, 1, 5, 4), dim=-1)
    v = torch.randn(1, 1, 5, 3)
    ok_beta, ok_alpha = torch.full((1, 1, 5), 0.5), torch.full((1, 1, 5), 1.0)
    delta_rule(q, k, v, ok_beta, ok_alpha, validate=True)
    for beta, alpha, name in ((ok_beta + 1, ok_alpha, "beta"), (ok_beta, ok_alpha * 0, "alpha"),
                              (ok_beta * float("nan"), ok_alpha, "beta"), (ok_beta, ok_alpha + 0.5, "alpha")):
        with pytest.raises(ValueError, match=name):
            delta_rule(q, k, v, beta, alpha, validate=True)
    delta_rule(q, k, v, ok_beta + 1, ok_alpha)  # the hot path does not pay for the check


def _erase_call():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(1, 2, 9, 8, generator=g), dim=-1)
    k = torch.nn.functional.normalize(torch.randn(1, 2, 9, 8, generator=g), dim=-1)
    v, beta = torch.randn(1, 2, 9, 4, generator=g), 0.99 * torch.rand(1, 2, 9, generator=g)
    return q, k, v, beta, 0.99 * torch.rand(1, 2, 9, generator=g)


def test_an_erase_tensor_never_reaches_fla_auto_falls_back_to_chunked(monkeypatch):
    # fla has one β for writing and erasing: where it would run, a call with erase must not.
    monkeypatch.setattr(dispatch, "resolve_backend", lambda backend, q, v: "fla")
    monkeypatch.setattr(dispatch, "_warned", set())
    monkeypatch.setattr(dispatch, "delta_rule_fla", lambda *a, **kw: pytest.fail("reached fla"))
    q, k, v, beta, erase = _erase_call()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        o, s = delta_rule(q, k, v, beta, erase=erase, chunk_size=4)
    o_ref, s_ref = delta_rule_chunked(q, k, v, beta, erase=erase, chunk_size=4)
    assert torch.equal(o, o_ref) and torch.equal(s, s_ref)
    assert len(caught) == 1 and "erase" in str(caught[0].message)
    with pytest.raises(ValueError, match="erase"):
        delta_rule(q, k, v, beta, erase=erase, backend="fla")


def test_without_erase_the_same_call_still_goes_to_fla(monkeypatch):
    monkeypatch.setattr(dispatch, "resolve_backend", lambda backend, q, v: "fla")
    monkeypatch.setattr(dispatch, "delta_rule_fla", lambda *a, **kw: ("fla", None))
    q, k, v, beta, _ = _erase_call()
    assert delta_rule(q, k, v, beta)[0] == "fla"
