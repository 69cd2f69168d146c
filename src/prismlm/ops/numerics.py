"""The precision and non-finite contract shared by the sequence ops (delta rule, scans).

Precision. Every implementation of an op (reference loop, parallel form, decode step) runs its
arithmetic — the recurrent state, decay products and triangular solves — in `compute_dtype`:
float64 when any input is float64, else float32, whatever the input dtype and whether or not
autocast is on (`full_precision`). Sequence outputs come back in the inputs' activation dtype;
recurrent states stay in the compute dtype. So bf16/fp16 inputs lose only their own rounding,
never the accumulation (as flash-linear-attention keeps its state in fp32).

Non-finite values. A dense parallel form multiplies masked (zero) entries by every step of a
chunk, and 0 · NaN = NaN, so one NaN at step t would reach the outputs of steps < t. The parallel
forms therefore replace non-finite steps by a no-op before the maths (`finite_or_zero`) and put
NaN back afterwards at exactly the steps the recurrence would have reached (`poison`). Gradients
are those of the replaced computation: finite for the steps before the first bad one.
"""

from __future__ import annotations

import torch


def compute_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    """float64 if any given tensor is float64, else float32 (never a half type)."""
    if any(t is not None and t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32


def full_precision(device_type: str) -> torch.autocast:
    """Context that switches autocast off for `device_type`, so matmuls run in the input dtype."""
    return torch.autocast(device_type=device_type, enabled=False)


def cast(dtype: torch.dtype, *tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    """Each tensor in `dtype` (None stays None); a no-op for tensors already in it."""
    return [None if t is None else t.to(dtype) for t in tensors]


def finite_or_zero(x: torch.Tensor, bad: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """x with the entries where `bad` (broadcast to x) is True replaced by `fill`."""
    return torch.where(bad, torch.full((), fill, dtype=x.dtype, device=x.device), x)


def poison(x: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """x + NaN where `bad` (broadcast to x) is True, else x. The backward is the identity."""
    return x + torch.where(bad, float("nan"), 0.0).to(x.dtype)


def reached_after(bad_steps: torch.Tensor, inclusive: bool, dim: int = -1) -> torch.Tensor:
    """Steps reached by a bad step along `dim`: any bad step at s < t (or s ≤ t if inclusive)."""
    count = bad_steps.to(torch.int32).cumsum(dim)
    if not inclusive:
        count = count - bad_steps.to(torch.int32)
    return count > 0


# What every form of an op promises: max |x − ref| / max |ref| ≤ TOLERANCE[dtype of the inputs],
# for outputs, final states and input gradients, where ref is the float64 reference evaluated on
# the same (already rounded) inputs. Half types are bounded by rounding the result once (2^-9,
# 2^-12 relative) with room for the fp32 accumulation; fp32 by the solve on correlated keys.
TOLERANCE = {
    torch.float64: 1e-10,
    torch.float32: 1e-4,
    torch.bfloat16: 1e-2,
    torch.float16: 2e-3,
}


def max_relative_error(x: torch.Tensor, ref: torch.Tensor) -> float:
    """max |x − ref| / max |ref| (in float64; 0/0 counts as 0)."""
    x, ref = x.double(), ref.double()
    return ((x - ref).abs().max() / ref.abs().max().clamp_min(1e-300)).item() if ref.numel() else 0.0
