"""Char-LM leg: Prizma-Seq (quad2, learned positions) vs the parameter-matched Transformer.

Selection follows the spec with its test-split leak removed: each run keeps the eval with the
lowest validation BPC and reports the test BPC measured at that same step. The seed's bar is
"test BPC within +0.05 of the Transformer".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...data.registry import build_task
from ...experiment.rows import by_label, make_arm
from ...experiment.stats import summarize, welch
from ...experiment.sweep import grid, run_sweep
from .leg import write_leg_report
from .reference import REFERENCE
from .scales import SCALES

MARGIN = 0.05


def unigram_bpc(ids: torch.Tensor) -> float:
    """Entropy in bits of the corpus' character frequencies, H = -Σ p_c log2 p_c (ids: [N] int64).

    The BPC of the best context-free predictor: a model at or above it has learned no context.
    """
    p = torch.bincount(ids).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log2()).sum())


def leg_charlm(scale: str, seeds, out: Path, device: str = "auto", progress: bool = False):
    s = SCALES[scale]["charlm"]
    task = {"name": "charlm", "corpus": s["corpus"], "seq_len": s["seq_len"]}
    if "split" in s:
        task["split"] = s["split"]
    arms = [
        make_arm("prizma-quad2", s["dims"], s["feat_n2"], learned_pos=True),
        make_arm("transformer", s["dims"], 0, match_to={"learned_pos": True}),
    ]
    try:
        records = run_sweep(
            grid(arms, [task], s["train"], seeds, test_split=True), out / "cache", device, progress
        )
    except FileNotFoundError as err:
        claim = REFERENCE["charlm"]["claim"]
        headline = {"measured": f"not run: {err}", "published": claim, "skipped": True}
        return write_leg_report(
            out / "charlm", "charlm", {"scale": scale, "seeds": list(seeds), "headline": headline}, []
        )
    rows: list[dict[str, Any]] = []
    tests: dict[str, list[float]] = {}
    for label, recs in by_label(records).items():
        test = [r["best"]["test_bpc"] for r in recs]
        val = [r["best"]["bpc"] for r in recs]
        tests[label] = test
        st = summarize(test)
        rows.append(
            {
                "arm": label,
                "params": recs[0]["params"],
                "seeds": st.n,
                "median_test_bpc": st.median,
                "mean_test_bpc": st.mean,
                "ci95_low": st.ci_low,
                "ci95_high": st.ci_high,
                "per_seed_test": [round(x, 4) for x in test],
                "median_val_bpc": summarize(val).median,
                "best_step": [r["best"]["step"] for r in recs],
                "step_ms": sum(r["step_ms"] for r in recs) / len(recs),
            }
        )
    q, tf = rows[0], rows[1]
    delta = q["median_test_bpc"] - tf["median_test_bpc"]
    labels = list(tests)
    stat = (
        welch(tests[labels[0]], tests[labels[1]]).to_dict()
        if min(len(v) for v in tests.values()) >= 2
        else None
    )
    headline = {
        "measured": f"{s['corpus']} test BPC quad2 {q['median_test_bpc']:.4f} vs Transformer "
        f"{tf['median_test_bpc']:.4f} (delta {delta:+.4f})",
        "published": REFERENCE["charlm"]["claim"],
        "delta": delta,
        "within_margin": delta <= MARGIN,
        "step_ratio": q["step_ms"] / tf["step_ms"],
        "unigram_bpc": unigram_bpc(build_task(task).data.splits["train"]),
    }

    def plot(ax):
        for label, recs in by_label(records).items():
            for r in recs:
                ax.plot(
                    [h["step"] for h in r["history"]],
                    [h["test_bpc"] for h in r["history"]],
                    label=f"{label} s{r['config']['seed']}",
                )
        ax.set_xlabel("step")
        ax.set_ylabel("test BPC")
        ax.legend(fontsize=6)

    cols = [
        "arm",
        "params",
        "median_test_bpc",
        "mean_test_bpc",
        "ci95_low",
        "ci95_high",
        "per_seed_test",
        "median_val_bpc",
        "best_step",
        "step_ms",
    ]
    return write_leg_report(
        out / "charlm",
        "charlm",
        {
            "scale": scale,
            "seeds": list(seeds),
            "corpus": s["corpus"],
            "headline": headline,
            "welch": stat,
            "records": [r["key"] for r in records],
        },
        rows,
        cols,
        plot,
        notes=[f"Bar: quad2 test BPC <= Transformer + {MARGIN}."],
    )
