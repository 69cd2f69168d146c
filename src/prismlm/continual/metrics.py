"""Continual-learning metrics on accuracy matrices.

R[..., i, j] is the test accuracy on task j after training task i (all T x T cells, including
tasks not yet seen). Leading axes (e.g. seeds) are kept:

    ACC = mean_j R[T-1, j]
    FGT = mean_{j<T-1} ( max_{j<=i<=T-2} R[i, j] - R[T-1, j] )     (no clamp: can be negative)
    BWT = mean_{j<T-1} ( R[T-1, j] - R[j, j] )
    LA  = mean_i R[i, i]
Over seeds a metric is reported as mean +- 1.96 sd(ddof=1) / sqrt(n) (normal approximation, as
the reference; it understates the interval for small n).
"""

from __future__ import annotations

import numpy as np


def _check(r: np.ndarray) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    if r.ndim < 2 or r.shape[-1] != r.shape[-2] or r.shape[-1] == 0:
        raise ValueError(f"accuracy matrix must be [..., T, T] with T >= 1, got {r.shape}")
    return r


def acc(r) -> np.ndarray:
    r = _check(r)
    return r[..., -1, :].mean(-1)


def fgt(r) -> np.ndarray:
    r = _check(r)
    t = r.shape[-1]
    if t < 2:
        return np.zeros(r.shape[:-2])
    drops = [r[..., j : t - 1, j].max(-1) - r[..., t - 1, j] for j in range(t - 1)]
    return np.stack(drops, -1).mean(-1)


def bwt(r) -> np.ndarray:
    r = _check(r)
    t = r.shape[-1]
    if t < 2:
        return np.zeros(r.shape[:-2])
    diag = np.diagonal(r, axis1=-2, axis2=-1)
    return (r[..., -1, : t - 1] - diag[..., : t - 1]).mean(-1)


def la(r) -> np.ndarray:
    r = _check(r)
    return np.diagonal(r, axis1=-2, axis2=-1).mean(-1)


def mean_ci(values) -> tuple[float, float]:
    """(mean, 1.96 sd(ddof=1)/sqrt(n)); the half-width is 0 for a single value."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value")
    half = 1.96 * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else 0.0
    return float(v.mean()), float(half)


def summarize(r) -> dict:
    """All metrics for a stack of accuracy matrices [S, T, T]: per-seed values and mean +- CI."""
    r = _check(r)
    if r.ndim == 2:
        r = r[None]
    out: dict = {}
    for name, fn in (("acc", acc), ("fgt", fgt), ("bwt", bwt), ("la", la)):
        per_seed = fn(r)
        m, h = mean_ci(per_seed)
        out[name] = {"mean": m, "ci95": h, "per_seed": [float(x) for x in per_seed]}
    return out
