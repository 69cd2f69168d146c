"""Per-arm result rows from a sweep's records: group by arm label, summarise each arm's seeds
(Student-t CI, solve count), and Welch-test a reference arm against the others.

    rows = acc_rows(records, threshold=0.9)            # one row per arm
    tests = welch_table(records, reference_label="prizma-quad2 d64L2H2")
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .stats import summarize, welch

FEATURE_ARMS = ("prizma-quad2", "prizma-rand_linear")


def make_arm(model: str, dims: dict[str, Any], feat_n2: int, **extra: Any) -> dict[str, Any]:
    arm = {"model": model, **dims, **extra}
    if model in FEATURE_ARMS:
        arm["feat_n2"] = feat_n2
    return arm


def by_label(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["label"]].append(r)
    return dict(groups)


def acc_rows(
    records: list[dict[str, Any]], threshold: float, value=lambda r: r["best"]["acc"]
) -> list[dict[str, Any]]:
    """One row per arm: params, solve count, median/mean/CI of the per-seed values."""
    rows = []
    for label, recs in by_label(records).items():
        xs = [value(r) for r in recs]
        s = summarize(xs, threshold)
        rows.append(
            {
                "arm": label,
                "params": recs[0]["params"],
                "seeds": s.n,
                "solve": f"{s.n_solved}/{s.n}",
                "median_acc": s.median,
                "mean_acc": s.mean,
                "ci95_low": s.ci_low,
                "ci95_high": s.ci_high,
                "per_seed": [round(x, 4) for x in xs],
                "steps": [r["steps"] for r in recs],
                "step_ms": sum(r["step_ms"] for r in recs) / s.n,
            }
        )
    return rows


def welch_table(records: list[dict[str, Any]], reference_label: str, value=None) -> dict[str, Any]:
    """Welch t-test of the reference arm against every other arm (needs >= 2 seeds each)."""
    value = value or (lambda r: r["best"]["acc"])
    groups = by_label(records)
    out = {}
    ref = [value(r) for r in groups.get(reference_label, [])]
    for label, recs in groups.items():
        other = [value(r) for r in recs]
        if label == reference_label or len(ref) < 2 or len(other) < 2:
            continue
        out[f"{reference_label} vs {label}"] = welch(ref, other).to_dict()
    return out
