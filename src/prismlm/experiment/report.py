"""Writing a leg's results: JSON, a markdown table, a PNG, and a console table.

Every leg reports (rows measured in this run) next to (the seed's reference rows), so a reader
sees both without opening another file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..io import write_record


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"
    if isinstance(v, int) and abs(v) >= 10000:
        return f"{v:,}"
    return str(v)


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "(no rows)\n"
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_leg_report(
    out_dir: Path,
    leg: str,
    payload: dict[str, Any],
    rows: list[dict[str, Any]],
    reference: dict[str, Any],
    columns: list[str] | None = None,
    plot: Callable[[Any], None] | None = None,
    notes: list[str] | None = None,
    reference_title: str = "Published reference",
) -> dict[str, Any]:
    """Write `<out_dir>/<leg>.json|.md|.png` (prismlm.io.write_record): the rows measured in this
    run beside the published reference rows. `plot(ax)` draws the figure (skipped when there are
    no rows). Returns the record {"leg", **payload, "rows", "reference"}; the markdown is printed."""
    record = {"leg": leg, **payload, "rows": rows, "reference": reference}
    scale = payload.get("scale", "?")
    md = [f"# {leg} ({scale} scale)\n", "## Measured in this run\n", markdown_table(rows, columns)]
    md += [f"\n## {reference_title}\n", f"Claim: {reference.get('claim', '')}\n"]
    md.append(markdown_table(reference.get("rows", [])))
    md += [f"\n{note}\n" for note in notes or []]
    text = "\n".join(md)
    figure = None
    if plot is not None and rows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(6, 4))
        plot(ax)
        ax.set_title(f"{leg} ({scale} scale)")
        figure.tight_layout()
    write_record(out_dir, leg, record, text, figure)
    print(text, flush=True)
    return record
