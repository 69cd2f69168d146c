"""Result records: measured metrics next to reference figures, JSON and markdown, atomically.

Every row carries the measured mean +- 95% CI, the reference value it is compared to (or None
where no reference ran), the tolerance and a pass/fail verdict; nothing is hard-coded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...continual.metrics import summarize
from ...io import atomic_write_bytes

LABELS = {
    "backprop": "backprop MLP", "ewc": "EWC (boundaries)", "replay": "replay (1000, boundaries)",
    "oracle": "oracle multi-head (task id)", "prizma_dfa": "Prizma DFA (no W^T)",
    "prizma_exact": "Prizma exact W^T (sign fixed)",
    "prizma_exact_reference": "Prizma exact W^T (reference sign)", "noroute": "noRoute ablation",
}


def _close(measured: float, ref, tol: float) -> bool | None:
    return None if ref is None else bool(abs(measured - ref) <= tol)


def learner_rows(results: dict, reference: dict, tol: float = 0.03,
                 zero_fgt: tuple[str, ...] = ("prizma_dfa", "prizma_exact",
                                              "prizma_exact_reference")) -> list[dict]:
    """One row per learner: metrics, reference ACC/FGT and verdicts.

    A learner passes when ACC and FGT lie within `tol` of the reference; learners in
    `zero_fgt` must also reach FGT < 0.005. Learners without a reference get passed=None.
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
            ok_fgt = bool(ok_fgt and m["fgt"]["mean"] < 0.005)
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


def _fmt(m: dict) -> str:
    return f"{m['mean']:.3f} ± {m['ci95']:.3f}"


def _ref(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _verdict(v) -> str:
    return "n/a" if v is None else ("PASS" if v else "FAIL")


def rows_markdown(rows: list[dict]) -> str:
    lines = ["| learner | ACC ± CI | ref ACC | FGT ± CI | ref FGT | BWT ± CI | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["metrics"]
        lines.append(f"| {r['label']} | {_fmt(m['acc'])} | {_ref(r['reference']['acc'])} | "
                     f"{_fmt(m['fgt'])} | {_ref(r['reference']['fgt'])} | {_fmt(m['bwt'])} | "
                     f"{_verdict(r['passed'])} |")
    return "\n".join(lines)


def checks_markdown(checks: list[dict]) -> str:
    lines = ["| check | measured | reference / target | verdict |", "|---|---|---|---|"]
    for c in checks:
        lines.append(f"| {c['name']} | {c['measured']} | {c['target']} | "
                     f"{_verdict(c['passed'])} |")
    return "\n".join(lines)


def check(name: str, measured, target: str, passed: bool) -> dict:
    return {"name": name, "measured": measured, "target": target, "passed": bool(passed)}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def write_outputs(out: Path, name: str, payload: dict, markdown: str, figure=None) -> dict:
    """Write <out>/<name>.json, .md and (if given) .png atomically; returns the paths."""
    out = Path(out)
    paths = {"json": out / f"{name}.json", "md": out / f"{name}.md"}
    blob = json.dumps(_jsonable(payload), indent=1, default=str).encode()
    atomic_write_bytes(paths["json"], blob)
    atomic_write_bytes(paths["md"], (markdown.rstrip() + "\n").encode())
    if figure is not None:
        import io

        import matplotlib.pyplot as plt

        paths["png"] = out / f"{name}.png"
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        atomic_write_bytes(paths["png"], buf.getvalue())
    return {k: str(v) for k, v in paths.items()}
