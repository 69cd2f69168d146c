"""Continual-learning metrics on accuracy matrices.

R[..., i, j] is the test accuracy on task j after training task i (all T x T cells, including
tasks not yet seen). Leading axes (e.g. seeds) are kept:

    average_accuracy   ACC = mean_j R[T-1, j]
    forgetting         FGT = mean_{j<T-1} ( max_{j<=i<=T-2} R[i, j] - R[T-1, j] )  (no clamp)
    backward_transfer  BWT = mean_{j<T-1} ( R[T-1, j] - R[j, j] )
    learning_accuracy  LA  = mean_i R[i, i]

Over seeds a metric is summarised by `prismlm.experiment.stats` (mean, sd, Student-t 95% CI).
The reference reports 1.96 sd / sqrt(n) instead, which is too narrow for n = 5 or 10 seeds.
"""

from __future__ import annotations

import numpy as np

from ..experiment.stats import summarize as summarize_values

METRICS = ("acc", "fgt", "bwt", "la")  # the keys of `summarize`, in report order


def _check(r) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    if r.ndim < 2 or r.shape[-1] != r.shape[-2] or r.shape[-1] == 0:
        raise ValueError(f"accuracy matrix must be [..., T, T] with T >= 1, got {r.shape}")
    return r


def average_accuracy(r) -> np.ndarray:
    """ACC: mean accuracy over all tasks after the last one. [..., T, T] -> [...]"""
    r = _check(r)
    return r[..., -1, :].mean(-1)


def forgetting(r) -> np.ndarray:
    """FGT: mean drop from each earlier task's best accuracy (before the last row) to the last row.

    Unclamped, so a task that improved later counts negatively. Zero for T = 1. [..., T, T] -> [...]
    """
    r = _check(r)
    t = r.shape[-1]
    if t < 2:
        return np.zeros(r.shape[:-2])
    drops = [r[..., j : t - 1, j].max(-1) - r[..., t - 1, j] for j in range(t - 1)]
    return np.stack(drops, -1).mean(-1)


def backward_transfer(r) -> np.ndarray:
    """BWT: mean of final minus just-learned accuracy over the earlier tasks. [..., T, T] -> [...]"""
    r = _check(r)
    t = r.shape[-1]
    if t < 2:
        return np.zeros(r.shape[:-2])
    diag = np.diagonal(r, axis1=-2, axis2=-1)
    return (r[..., -1, : t - 1] - diag[..., : t - 1]).mean(-1)


def learning_accuracy(r) -> np.ndarray:
    """LA: mean accuracy on each task right after learning it (the diagonal). [..., T, T] -> [...]"""
    r = _check(r)
    return np.diagonal(r, axis1=-2, axis2=-1).mean(-1)


_FUNCTIONS = {"acc": average_accuracy, "fgt": forgetting, "bwt": backward_transfer,
              "la": learning_accuracy}


def summarize(r) -> dict:
    """All metrics for a stack of accuracy matrices [S, T, T] (or one [T, T]).

    Returns {metric: {"mean", "sd", "ci_low", "ci_high", "ci95" (t-interval half-width),
    "per_seed"}} for metric in METRICS.
    """
    r = _check(r)
    if r.ndim == 2:
        r = r[None]
    out: dict = {}
    for name in METRICS:
        per_seed = _FUNCTIONS[name](r)
        s = summarize_values(per_seed)
        out[name] = {"mean": s.mean, "sd": s.sd, "ci_low": s.ci_low, "ci_high": s.ci_high,
                     "ci95": (s.ci_high - s.ci_low) / 2, "per_seed": [float(x) for x in per_seed]}
    return out
