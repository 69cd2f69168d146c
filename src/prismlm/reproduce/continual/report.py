"""Rows and markdown for the continual experiments: measured metrics beside reference figures.

Every learner row carries the measured mean ± Student-t 95% CI, the reference value it is compared
to (None where the reference gives none), the tolerance and a verdict. Every check row carries
its measured value, the reference figure it is read against, the target and a verdict. Files are
written by the one report writer, `prismlm.io.write_record`.
"""

from __future__ import annotations

from ...continual.metrics import summarize

LABELS = {
    "backprop": "backprop MLP", "ewc": "EWC (boundaries)", "replay": "replay (1000, boundaries)",
    "oracle": "oracle multi-head (task id)", "prizma_dfa": "Prizma DFA (no W^T)",
    "prizma_exact": "Prizma exact W^T (sign fixed)",
    "prizma_exact_reference": "Prizma exact W^T (reference sign)", "noroute": "noRoute ablation",
}
# Prizma variants freeze every committed expert, so their forgetting must also be ~0.
ZERO_FGT = ("prizma_dfa", "prizma_exact", "prizma_exact_reference")
ZERO_FGT_TOL = 0.005  # spec §9.5 / §9.18: FGT <= 0.005 counts as zero forgetting


def _close(measured: float, ref, tol: float) -> bool | None:
    return None if ref is None else bool(abs(measured - ref) <= tol)


def learner_rows(results: dict, reference: dict, tol: float = 0.03,
                 zero_fgt: tuple[str, ...] = ZERO_FGT) -> list[dict]:
    """One row per learner in `results` ({name: {"R": [S, T, T], ...}}; "_"-keys skipped).

    A learner passes when ACC and FGT lie within `tol` of `reference[name] = (acc, fgt)`;
    learners in `zero_fgt` with a reference FGT must also reach FGT < ZERO_FGT_TOL. Learners
    without any reference figure get passed=None.
    """
    rows = []
    for name, res in results.items():
        if name.startswith("_"):
            continue
        m = summarize(res["R"])
        ref_acc, ref_fgt = reference.get(name, (None, None))
        ok_acc = _close(m["acc"]["mean"], ref_acc, tol)
        ok_fgt = _close(m["fgt"]["mean"], ref_fgt, tol)
        if name in zero_fgt and ref_fgt is not None:
            ok_fgt = bool(ok_fgt and m["fgt"]["mean"] < ZERO_FGT_TOL)
        verdicts = [v for v in (ok_acc, ok_fgt) if v is not None]
        row = {"learner": name, "label": LABELS.get(name, name), "metrics": m,
               "reference": {"acc": ref_acc, "fgt": ref_fgt}, "tolerance": tol,
               "pass_acc": ok_acc, "pass_fgt": ok_fgt,
               "passed": all(verdicts) if verdicts else None}
        for k in ("purity", "experts_committed", "experts_trained", "batches_dropped"):
            if k in res:
                row[k] = res[k]
        rows.append(row)
    return rows


def row_mean(rows: list[dict], name: str, metric: str) -> float | None:
    """Mean of `metric` for learner `name`, or None if that learner did not run."""
    for r in rows:
        if r["learner"] == name:
            return r["metrics"][metric]["mean"]
    return None


def fmt_ci(m: dict) -> str:
    return f"{m['mean']:.3f} ± {m['ci95']:.3f}"


def fmt_ref(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def fmt_verdict(v) -> str:
    return "n/a" if v is None else ("PASS" if v else "FAIL")


def rows_markdown(rows: list[dict]) -> str:
    lines = ["| learner | ACC ± CI | ref ACC | FGT ± CI | ref FGT | BWT ± CI | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["metrics"]
        lines.append(f"| {r['label']} | {fmt_ci(m['acc'])} | {fmt_ref(r['reference']['acc'])} | "
                     f"{fmt_ci(m['fgt'])} | {fmt_ref(r['reference']['fgt'])} | "
                     f"{fmt_ci(m['bwt'])} | {fmt_verdict(r['passed'])} |")
    return "\n".join(lines)


def checks_markdown(checks: list[dict]) -> str:
    lines = ["| check | measured | reference | target | verdict |", "|---|---|---|---|---|"]
    for c in checks:
        lines.append(f"| {c['name']} | {c['measured']} | {c['reference']} | {c['target']} | "
                     f"{fmt_verdict(c['passed'])} |")
    return "\n".join(lines)


def check(name: str, measured: str, reference: str, target: str, passed: bool) -> dict:
    """One verdict row: the measured figure, the reference figure beside it, the pass rule."""
    return {"name": name, "measured": measured, "reference": reference, "target": target,
            "passed": bool(passed)}
