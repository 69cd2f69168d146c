"""Statistics for multi-seed comparisons (spec §5).

    summarize(xs, threshold)   n, mean, sd, median, Student-t 95% CI, min/max, solve rate
    welch(a, b)                Welch's unequal-variance t-test between two arms
    welch_from_stats(...)      the same from (mean, sd, n) summaries
    tost(a, b, margin)         two one-sided tests for equivalence within ±margin
    holm(pvalues)              Holm–Bonferroni adjusted p-values for a family of tests

With n = 2–3 seeds these are descriptive; the CI is the t interval (not the z interval of the
reference runners, which can exceed 1.0 at the accuracy ceiling).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps


@dataclass
class Summary:
    n: int
    mean: float
    sd: float
    median: float
    ci_low: float
    ci_high: float
    min: float
    max: float
    solve_rate: float | None = None  # fraction of seeds with value > threshold
    n_solved: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def ci95(xs: Sequence[float]) -> tuple[float, float]:
    """Student-t 95% confidence interval of the mean (degenerate for n = 1)."""
    x = np.asarray(xs, dtype=float)
    m = float(x.mean())
    if len(x) < 2:
        return m, m
    half = float(sps.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return m - half, m + half


def summarize(xs: Sequence[float], threshold: float | None = None) -> Summary:
    x = np.asarray(xs, dtype=float)
    if len(x) == 0:
        raise ValueError("summarize needs at least one value")
    lo, hi = ci95(x)
    s = Summary(
        n=len(x),
        mean=float(x.mean()),
        sd=float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        median=float(np.median(x)),
        ci_low=lo,
        ci_high=hi,
        min=float(x.min()),
        max=float(x.max()),
    )
    if threshold is not None:
        s.n_solved = int((x > threshold).sum())
        s.solve_rate = s.n_solved / len(x)
    return s


@dataclass
class TTest:
    t: float
    df: float
    p_two_sided: float
    p_greater: float  # H1: mean(a) > mean(b)

    def to_dict(self) -> dict:
        return asdict(self)


def welch_from_stats(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> TTest:
    """Welch's t for H0 mean1 == mean2 from summaries; t = (m1 - m2) / sqrt(s1²/n1 + s2²/n2)."""
    v1, v2 = s1 * s1 / n1, s2 * s2 / n2
    se = math.sqrt(v1 + v2)
    if se == 0:
        diff = m1 - m2
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p = 1.0 if diff == 0 else 0.0
        return TTest(t, float("nan"), p, 0.5 if diff == 0 else float(diff < 0))
    t = (m1 - m2) / se
    df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    return TTest(t, df, float(2 * sps.t.sf(abs(t), df)), float(sps.t.sf(t, df)))


def welch(a: Sequence[float], b: Sequence[float]) -> TTest:
    """Welch's unequal-variance t-test of arm a against arm b (needs n >= 2 in each)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("Welch's t-test needs at least two values per arm")
    return welch_from_stats(
        float(x.mean()), float(x.std(ddof=1)), len(x), float(y.mean()), float(y.std(ddof=1)), len(y)
    )


def tost(a: Sequence[float], b: Sequence[float], margin: float) -> float:
    """p-value of the two one-sided Welch tests for |mean(a) - mean(b)| < margin."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    lower = welch(x + margin, y).p_greater  # H1: a - b > -margin
    upper = welch(y + margin, x).p_greater  # H1: a - b < +margin
    return max(lower, upper)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni step-down adjusted p-values, in the input order."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
