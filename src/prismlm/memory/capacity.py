"""How many facts one holographic superposition holds: the asymptotic estimate and a
Gaussian-model prediction of cleanup accuracy.

MAP bipolar tape, N facts, dimension d. Unbinding fact i and scoring every stored value by dot
product gives
    true value:   s_i = d + X,      X ~ N(0, (N − 1)·d)   (cross-talk of the other facts)
    other value:  s_m ~ N(0, N·d)                           (independent of X and of each other)
so, in units of √(N·d), the true score is √(d/N)·(1 + noise) and the N − 1 competitors are
standard normals whose maximum is ≈ √(2 ln N). Retrieval therefore succeeds while
√(d/N) ≳ √(2 ln N), i.e. the classical single-superposition capacity N ≈ d / (2 ln N).
`predicted_accuracy` integrates the same model exactly (Gauss–Hermite over X), which also
accounts for the fluctuation of the true score that the asymptotic estimate ignores.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_ndtr

__all__ = [
    "asymptotic_capacity",
    "predicted_accuracy",
    "predicted_capacity",
    "reference_capacity",
    "reference_capacity_limit",
]


def _fixed_point(d: int, per_log: float) -> float:
    """The N solving N = d / (per_log · ln N), by iteration (a contraction for N > e)."""
    if d < 8:
        raise ValueError(f"dimension must be >= 8, got {d}")
    n = d / 2.0
    for _ in range(200):
        n_new = d / (per_log * math.log(max(n, 2.0)))
        if abs(n_new - n) < 1e-9:
            break
        n = n_new
    return n


def asymptotic_capacity(d: int) -> float:
    """The N solving N = d / (2 ln N) (fixed point), the theoretical capacity of one tape."""
    return _fixed_point(d, 2.0)


def reference_capacity(d: int, n: int) -> float:
    """The reference implementation's own estimate d / (8 · log₂ N), for comparison only."""
    return d / (8.0 * math.log2(max(n, 2)))


def reference_capacity_limit(d: int) -> float:
    """The largest N the reference's estimate admits: N = d / (8 log₂ N) = d / ((8 / ln 2) ln N)."""
    return _fixed_point(d, 8.0 / math.log(2.0))


def predicted_accuracy(d: int, n: int, order: int = 64) -> float:
    """Expected fraction of N stored facts recovered exactly by cleanup among the N values
    (MAP bipolar, Gaussian cross-talk model)."""
    if n <= 1:
        return 1.0
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)  # ∫ f(x) φ(x) dx
    weights = weights / weights.sum()
    # True score in units of √(N d): √(d/N) + ξ √((N − 1)/N); competitors standard normal.
    z = math.sqrt(d / n) + nodes * math.sqrt((n - 1) / n)
    log_p = (n - 1) * log_ndtr(z)
    return float(np.sum(weights * np.exp(log_p)))


def predicted_capacity(d: int, target: float = 0.99) -> int:
    """Largest N whose predicted accuracy is >= target (binary search; accuracy falls with N)."""
    lo, hi = 1, 2
    while predicted_accuracy(d, hi) >= target:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if predicted_accuracy(d, mid) >= target:
            lo = mid
        else:
            hi = mid
    return lo
