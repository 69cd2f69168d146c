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
) -> str:
    """Write `<out_dir>/<leg>.json|.md|.png` (prismlm.io.write_record) and return the markdown
    (also printed). `plot(ax)` draws the figure, if given."""
    data = {"leg": leg, **payload, "rows": rows, "reference": reference}
    md = [f"# {leg} ({payload.get('scale', '?')} scale)\n"]
    md.append("## Measured in this run\n")
    md.append(markdown_table(rows, columns))
    md.append("\n## Seed 000 reference (paper scale)\n")
    md.append(f"Claim: {reference.get('claim', '')}\n")
    md.append(markdown_table(reference.get("rows", [])))
    for note in notes or []:
        md.append(f"\n{note}\n")
    text = "\n".join(md)
    figure = None
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(6, 4))
        plot(ax)
        ax.set_title(f"{leg} ({payload.get('scale', '?')} scale)")
        figure.tight_layout()
    write_record(out_dir, leg, data, text, figure)
    print(text, flush=True)
    return text
